"""Peak training memory at a few batch sizes, estimated without a GPU, against a T4's 15 GiB."""

from __future__ import annotations

from collections.abc import Sequence

from omegaconf import DictConfig, OmegaConf
from torch.utils.data import default_collate

from colab_utils.engine.contract import Task
from colab_utils.engine.estimate import training_memory

T4_GIB = 15.0
CONTEXT_GIB, FRAGMENTATION = 0.5, 1.2  # what the estimate leaves out, added before comparing


def _first_batch(task: Task, cfg: DictConfig, size: int) -> object:
    """The training set's first ``size`` items, collated as the task collates them."""
    train_set, _ = task.datasets(cfg)
    train_set.seed = int(cfg.seed)
    collate = task.collate_fn() or default_collate
    return collate([train_set[(0, index % len(train_set))] for index in range(size)])


def _gib(peak: dict, kind: str = "Total") -> float:
    return peak[kind] / 2**30


def memory_lines(task: Task, cfg: DictConfig, batch_sizes: Sequence[int]) -> list[str]:
    """One line per batch size: the fake-tensor peak of a training step and whether it fits a T4.

    An estimate (:func:`~colab_utils.engine.estimate.training_memory`), not a measurement.
    """
    lines = []
    for size in batch_sizes:
        peak = training_memory(task, cfg, _first_batch(task, cfg, size))
        total = _gib(peak)
        needed = total * FRAGMENTATION + CONTEXT_GIB
        parts = ", ".join(f"{k.lower()} {v / 2**30:.2f}" for k, v in peak.items() if k != "Total" and v)
        verdict = "fits" if needed <= T4_GIB else "does not fit"
        lines.append(
            f"memory: batch {size} peaks at {total:.2f} GiB ({parts}); x{FRAGMENTATION} + {CONTEXT_GIB} GiB "
            f"context = {needed:.1f} GiB: {verdict} in {T4_GIB:g} GiB (estimated without a GPU)"
        )
    return lines


def checkpointing_lines(task: Task, cfg: DictConfig) -> list[str]:
    """The peak at the profile's batch without and with ``model.grad_checkpointing``.

    The fake-tensor tracker follows every allocation, so it sees the activations checkpointing
    frees after the forward pass and those it recomputes in the backward pass.
    """
    size = int(cfg.train.batch_size)
    batch = _first_batch(task, cfg, size)

    def peak(checkpointing: bool) -> dict:
        setting = {"model": {"grad_checkpointing": checkpointing}}
        return training_memory(task, OmegaConf.merge(cfg, setting), batch)

    off, on = peak(False), peak(True)
    return [
        f"memory with model.grad_checkpointing at batch {size}: off {_gib(off):.2f} GiB (activations "
        f"{_gib(off, 'Activation'):.2f}), on {_gib(on):.2f} GiB (activations {_gib(on, 'Activation'):.2f}), "
        f"{1 - _gib(on) / _gib(off):.0%} less (estimated without a GPU)"
    ]
