"""Gradient checkpointing: chosen modules keep only their inputs and recompute the rest in the backward pass.

``model.grad_checkpointing`` trades about one more forward pass per step for the activations a
stage would keep for its backward pass. The networks name their stages (an HRNet's branches, a
ResNet's layers, a transformer's layers) and :func:`recompute_in_backward` wraps each in
``torch.utils.checkpoint`` (non-reentrant). The recomputation would run batch norms a second time
in training mode and move their running statistics twice per step (as timm's own
``set_grad_checkpointing`` does); here they are put back after it, so a checkpointed network
trains to the same weights and statistics as one that is not.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import checkpoint

STATISTICS = ("running_mean", "running_var", "num_batches_tracked")


@contextlib.contextmanager
def _statistics_kept(module: nn.Module) -> Iterator[None]:
    """The batch norms under ``module`` update copies of their running statistics, dropped on exit.

    The originals are put back as the same tensor objects, untouched, so nothing that saved them
    sees an in-place change.
    """
    kept = [
        (norm, name, norm._buffers[name])
        for norm in module.modules()
        if isinstance(norm, _BatchNorm)
        for name in STATISTICS
        if norm._buffers.get(name) is not None
    ]
    for norm, name, tensor in kept:
        norm._buffers[name] = tensor.clone()
    try:
        yield
    finally:
        for norm, name, tensor in kept:
            norm._buffers[name] = tensor


def recompute(scope: nn.Module, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` under ``torch.utils.checkpoint`` while ``scope`` trains with gradients.

    ``scope`` is the module whose layers ``function`` runs: its batch norms keep their statistics
    through the recomputation. Evaluation and ``no_grad`` run ``function`` as it is.
    """
    if not (scope.training and torch.is_grad_enabled()):
        return function(*args, **kwargs)

    def contexts() -> tuple[contextlib.AbstractContextManager, contextlib.AbstractContextManager]:
        return contextlib.nullcontext(), _statistics_kept(scope)

    def run(*run_args: Any, **run_kwargs: Any) -> Any:
        # each run gets its own lists: a stage that overwrites the items of a list it is given (timm's
        # HRNet stages do) would otherwise be recomputed from its own outputs
        fresh = [list(arg) if isinstance(arg, list) else arg for arg in run_args]
        return function(*fresh, **run_kwargs)

    return checkpoint(run, *args, use_reentrant=False, context_fn=contexts, **kwargs)


class _RecomputedForward:
    """A module's own forward, recomputed in the backward pass (set as the instance's ``forward``)."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return recompute(self.module, type(self.module).forward, self.module, *args, **kwargs)


def recompute_in_backward(modules: Iterable[nn.Module]) -> None:
    """Checkpoint each module's forward; parameter names and the state dict stay as they were."""
    for module in modules:
        module.forward = _RecomputedForward(module)


def resnet_stages(features: nn.Module) -> list[nn.Module]:
    """The residual stages (``layer1``-``layer4``) of a timm ResNet, whole or ``features_only``."""
    stages = [module for name, module in features.named_children() if re.fullmatch(r"layer\d+", name)]
    if not stages:
        raise ValueError(f"{type(features).__name__} has no ResNet stages (layer1-4) to checkpoint")
    return stages
