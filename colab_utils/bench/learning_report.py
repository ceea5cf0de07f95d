"""The learning bench's printed blocks and summary, one JSON line per model for the record."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict

from colab_utils.bench.command import chosen_models, scratch_folders
from colab_utils.bench.learning import Learned, Transfer, learn, transfer
from colab_utils.bench.measure import model_bench


def block(result: Learned) -> str:
    """Every held-out metric untrained and trained, the monitored one first."""
    names = [result.monitor, *(name for name in result.trained if name != result.monitor)]
    width = max(len(name) for name in names)
    settings = f" with {' '.join(result.settings)}" if result.settings else ""
    lines = [
        f"== {result.model}{settings}: {result.steps} steps in {result.train_seconds:.0f} s on "
        f"{os.cpu_count()} cores, scored on held-out synthetic frames",
        f"{'metric':<{width}}  untrained    trained",
        *(
            f"{name:<{width}}  {result.untrained.get(name, float('nan')):9.4f}  {result.trained[name]:9.4f}"
            for name in names
        ),
    ]
    return "\n".join(lines)


def learning_bench(model: str, overrides: Sequence[str] = ()) -> list[Learned]:
    """Train and score each chosen model in its own scratch folders; print a block and a JSON line each."""
    results = []
    for name in chosen_models(model):
        with scratch_folders():
            results.append(learn(name, overrides))
        print(block(results[-1]), flush=True)
        print(json.dumps(asdict(results[-1])), end="\n\n", flush=True)
    return results


def transfer_block(result: Transfer) -> str:
    """Each held-out metric of the target mix: untrained, the source's weights before fine-tuning,
    trained from nothing and fine-tuned, at equal steps."""
    scratch, tuned = result.from_nothing, result.fine_tuned
    names = [scratch.monitor, *(name for name in scratch.trained if name != scratch.monitor)]
    width = max(len(name) for name in names)
    lines = [
        f"== {result.model}: trained on {' '.join(result.source)}, then {tuned.steps} steps on "
        f"{' '.join(result.target)} (from nothing: {scratch.steps}), scored on that mix's held-out frames",
        f"{'metric':<{width}}  untrained  source weights  from nothing  fine-tuned",
        *(
            f"{name:<{width}}  {scratch.untrained.get(name, float('nan')):9.4f}  "
            f"{tuned.untrained.get(name, float('nan')):14.4f}  {scratch.trained[name]:12.4f}  "
            f"{tuned.trained[name]:10.4f}"
            for name in names
        ),
    ]
    return "\n".join(lines)


def transfer_bench(model: str, overrides: Sequence[str] = ()) -> list[Transfer]:
    """``bench --learn --transfer``: each chosen model that names two synthetic mixes, in scratch folders."""
    results = []
    for name in chosen_models(model):
        if model_bench(name).transfer is None:
            print(f"== {name}: no second synthetic mix to fine-tune on (its bench names none)", flush=True)
            continue
        with scratch_folders():
            results.append(transfer(name, overrides))
        print(transfer_block(results[-1]), flush=True)
        print(json.dumps(asdict(results[-1])), end="\n\n", flush=True)
    return results
