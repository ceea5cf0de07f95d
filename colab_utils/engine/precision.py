"""Mixed precision: bf16 where the GPU really has it, fp16 + GradScaler below, fp32 on CPU."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from colab_utils.runtime import GPU

CHOICES = ("auto", "bf16", "fp16", "fp32")


@dataclass(frozen=True)
class Precision:
    """How a step runs: the autocast dtype and whether the loss needs scaling."""

    name: str  # "fp32", "fp16" or "bf16"
    device_type: str

    @property
    def dtype(self) -> torch.dtype:
        return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[self.name]

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.name == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    @property
    def needs_loss_scaling(self) -> bool:
        """fp16 gradients underflow without loss scaling; bf16 and fp32 do not need it."""
        return self.name == "fp16"

    def grad_scaler(self) -> torch.amp.GradScaler:
        return torch.amp.GradScaler(self.device_type, enabled=self.needs_loss_scaling)


def resolve_precision(requested: str, device: torch.device, gpu: GPU | None) -> tuple[Precision, str | None]:
    """The precision to train with, and a note for the user when it differs from the request."""
    if requested not in CHOICES:
        raise ValueError(f"train.amp={requested!r} is not one of {', '.join(CHOICES)}")
    if device.type != "cuda":
        note = None if requested in ("auto", "fp32") else f"train.amp={requested} ignored on CPU: using fp32"
        return Precision("fp32", device.type), note
    has_bf16 = gpu is not None and gpu.bf16
    if requested == "auto":
        return Precision("bf16" if has_bf16 else "fp16", "cuda"), None
    if requested == "bf16" and not has_bf16:
        name = gpu.name if gpu else "this GPU"
        return Precision("fp16", "cuda"), (
            f"{name} has no bf16 tensor cores (compute capability < 8.0): using fp16 with GradScaler"
        )
    return Precision(requested, "cuda"), None
