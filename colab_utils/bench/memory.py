"""Peak training memory at a few batch sizes, estimated without a GPU, against a T4's 15 GiB."""

from __future__ import annotations

from collections.abc import Sequence

from omegaconf import DictConfig
from torch.utils.data import default_collate

from colab_utils.engine.contract import Task
from colab_utils.engine.estimate import training_memory

T4_GIB = 15.0
CONTEXT_GIB, FRAGMENTATION = 0.5, 1.2  # what the estimate leaves out, added before comparing


def memory_lines(task: Task, cfg: DictConfig, batch_sizes: Sequence[int]) -> list[str]:
    """One line per batch size: the fake-tensor peak of a training step and whether it fits a T4.

    The batches are the training set's first items, collated as the task collates them.
    An estimate (:func:`~colab_utils.engine.estimate.training_memory`), not a measurement.
    """
    train_set, _ = task.datasets(cfg)
    train_set.seed = int(cfg.seed)
    collate = task.collate_fn() or default_collate
    lines = []
    for size in batch_sizes:
        batch = collate([train_set[(0, index % len(train_set))] for index in range(size)])
        peak = training_memory(task, cfg, batch)
        total = peak["Total"] / 2**30
        needed = total * FRAGMENTATION + CONTEXT_GIB
        parts = ", ".join(f"{k.lower()} {v / 2**30:.2f}" for k, v in peak.items() if k != "Total" and v)
        verdict = "fits" if needed <= T4_GIB else "does not fit"
        lines.append(
            f"memory: batch {size} peaks at {total:.2f} GiB ({parts}); x{FRAGMENTATION} + {CONTEXT_GIB} GiB "
            f"context = {needed:.1f} GiB: {verdict} in {T4_GIB:g} GiB (estimated without a GPU)"
        )
    return lines
