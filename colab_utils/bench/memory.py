"""Peak training memory at a few batch sizes, estimated without a GPU, against a T4's 15 GiB."""

from __future__ import annotations

from collections.abc import Sequence

import torch
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


def saved_for_backward(task: Task, cfg: DictConfig, batch: object) -> int:
    """Bytes a real training forward pass keeps for its backward pass, parameters left out.

    Measured, not estimated: real tensors on the CPU, under bf16 autocast (the same two bytes an
    element as a T4's fp16). A checkpointed stage keeps only its input, and this counts exactly
    that, where the fake-tensor tracker of :func:`training_memory` reports DETR's peak unchanged.
    """
    model = task.build_model(cfg, torch.device("cpu"))
    network = model.nn_module.train()
    own = {t.untyped_storage().data_ptr() for t in [*network.parameters(), *network.buffers()]}
    kept: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in own:
            kept[storage.data_ptr()] = storage.nbytes()
        return tensor

    counting = torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor)
    with torch.autocast("cpu", dtype=torch.bfloat16), counting:
        model.forward_loss(batch)
    return sum(kept.values())


def checkpointing_lines(task: Task, cfg: DictConfig) -> list[str]:
    """The peak at the profile's batch without and with ``model.grad_checkpointing``, and what one
    item's forward pass keeps for the backward pass (measured on the CPU).

    The fake-tensor tracker estimates the whole step's peak; the measured bytes show what
    checkpointing itself frees, which the estimate misses for DETR.
    """
    size = int(cfg.train.batch_size)
    batch = _first_batch(task, cfg, size)

    def with_checkpointing(on: bool) -> DictConfig:
        return OmegaConf.merge(cfg, {"model": {"grad_checkpointing": on}})

    off, on = (training_memory(task, with_checkpointing(flag), batch) for flag in (False, True))
    one = _first_batch(task, cfg, 1)
    kept_off, kept_on = (
        saved_for_backward(task, with_checkpointing(flag), one) / 2**20 for flag in (False, True)
    )
    return [
        f"memory with model.grad_checkpointing at batch {size}: off {_gib(off):.2f} GiB (activations "
        f"{_gib(off, 'Activation'):.2f}), on {_gib(on):.2f} GiB (activations {_gib(on, 'Activation'):.2f}), "
        f"{1 - _gib(on) / _gib(off):.0%} less (estimated without a GPU)",
        f"kept for the backward pass per item (measured on this CPU, bf16 autocast): off {kept_off:.0f} MiB, "
        f"on {kept_on:.0f} MiB, {1 - kept_on / kept_off:.0%} less; at the profile's batch of {size}: "
        f"{size * kept_off / 1024:.2f} -> {size * kept_on / 1024:.2f} GiB",
    ]
