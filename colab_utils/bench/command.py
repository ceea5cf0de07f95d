"""``python -m colab_utils bench``: every requested model measured in scratch folders, then a table."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from colab_utils.bench.measure import Measured, measure
from colab_utils.bench.report import block, json_line, summary
from colab_utils.registry import model_package, shipped_models

FOLDERS = ("COLAB_UTILS_DRIVE", "COLAB_UTILS_DATA")


@contextmanager
def scratch_folders() -> Iterator[None]:
    """Drive and data folders that vanish afterwards: the bench's synthetic data must not stay."""
    saved = {name: os.environ.get(name) for name in FOLDERS}
    with tempfile.TemporaryDirectory(prefix="colab_utils-bench-") as tmp:
        os.environ.update({name: os.path.join(tmp, name.rsplit("_", 1)[1].lower()) for name in FOLDERS})
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def chosen_models(model: str) -> list[str]:
    """``all``: the shipped models in registry order; else the one model (ValueError when unknown)."""
    if model == "all":
        return shipped_models()
    model_package(model)
    return [model]


def bench(
    model: str, profile: str, batches: int, overrides: Sequence[str] = (), as_json: bool = False
) -> list[Measured]:
    """Print one block per model as it is measured, and for several a summary table at the end;
    ``as_json``: one JSON line per model instead."""
    results = []
    for name in chosen_models(model):
        with scratch_folders():
            results.append(measure(name, profile, batches, overrides))
        print(json_line(results[-1]) if as_json else block(results[-1]) + "\n", flush=True)
    if len(results) > 1 and not as_json:
        print(summary(results))
    return results
