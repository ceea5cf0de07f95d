"""The argus model every task subclasses: mixed precision, gradient accumulation, clipping.

A task sets ``nn_module`` and ``loss`` as argus expects and, when its batches are not
``(input, target)`` pairs or its network computes its own loss (DETR), overrides
:meth:`TrainModel.forward_loss`.
"""

from __future__ import annotations

import contextlib
from typing import Any

import argus
import torch
from argus.utils import deep_detach, deep_to
from torch.nn.parallel import DistributedDataParallel

from colab_utils.engine.precision import Precision


class TrainModel(argus.Model):
    """argus.Model whose train step can accumulate gradients and run in fp16/bf16."""

    def __init__(self, params: dict) -> None:
        super().__init__(params)
        self.logger.setLevel("WARNING")  # our progress bars and tables replace argus' log lines
        self.precision = Precision("fp32", self.device.type)
        self.scaler = self.precision.grad_scaler()
        self.accumulate = 1
        self.clip_grad_norm: float | None = None
        self.pending_batches = 0  # micro-batches whose gradients wait for an optimizer step
        self.memory_format = torch.contiguous_format  # channels_last when train.channels_last is on

    def configure_training(self, precision: Precision, accumulate: int, clip_grad_norm: float | None) -> None:
        if accumulate < 1:
            raise ValueError(f"train.accumulate must be >= 1, got {accumulate}")
        self.precision = precision
        self.scaler = precision.grad_scaler()
        self.accumulate = accumulate
        self.clip_grad_norm = clip_grad_norm

    def forward_loss(self, batch: Any) -> tuple[torch.Tensor, Any, Any]:
        """Loss, raw prediction and target of one batch (on the model's device)."""
        inputs, target = deep_to(batch, device=self.device, non_blocking=True)
        if isinstance(inputs, torch.Tensor) and inputs.dim() == 4:
            inputs = inputs.contiguous(memory_format=self.memory_format)
        prediction = self.nn_module(inputs)
        return self.loss(prediction, target), prediction, target

    def _sync_context(self) -> contextlib.AbstractContextManager:
        """Skip DDP's gradient all-reduce on micro-batches that do not end an accumulation."""
        last = self.pending_batches + 1 == self.accumulate
        if isinstance(self.nn_module, DistributedDataParallel) and not last:
            return self.nn_module.no_sync()
        return contextlib.nullcontext()

    def train_step(self, batch: Any, state: Any = None) -> dict:
        self.train()
        with self._sync_context():
            with self.precision.autocast():
                loss, prediction, target = self.forward_loss(batch)
            self.scaler.scale(loss / self.accumulate).backward()
        self.pending_batches += 1
        stepped = self.pending_batches == self.accumulate
        if stepped:
            self.optimizer_step()
        return {
            "prediction": deep_detach(prediction),
            "target": deep_detach(target),
            "loss": loss.item(),
            "optimizer_stepped": stepped,
        }

    def optimizer_step(self) -> None:
        """Apply the accumulated gradients (also used to flush a partial accumulation)."""
        if self.clip_grad_norm:
            self.scaler.unscale_(self.optimizer)
            params = [p for group in self.optimizer.param_groups for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.clip_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.pending_batches = 0

    def val_step(self, batch: Any, state: Any = None) -> dict:
        self.eval()
        with torch.no_grad(), self.precision.autocast():
            loss, prediction, target = self.forward_loss(batch)
        return {
            "prediction": self.prediction_transform(prediction),
            "target": target,
            "loss": loss.item(),
        }
