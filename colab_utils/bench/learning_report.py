"""The learning bench's printed blocks and summary, one JSON line per model for the record."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict

from colab_utils.bench.command import chosen_models, scratch_folders
from colab_utils.bench.learning import Learned, learn


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
