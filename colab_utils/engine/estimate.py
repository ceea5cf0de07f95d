"""How long will this take? Training FLOPs x samples / (GPU peak x efficiency).

The FLOPs are counted, not guessed: one training step (forward, loss, backward) of the
real network on a real batch's shapes runs on PyTorch's "meta" device under
``FlopCounterMode``, which costs no memory and no arithmetic. The efficiency is an
assumption: 15 % of the GPU's dense fp16/bf16 tensor peak, which matches the one public
data point for this kind of model (HRNet-W48 at 960x540, ~27 min per epoch of 16,463
frames on a 24 GB card with AMP). The progress bar's rate during the first epoch is the
measurement that replaces it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from argus.utils import deep_to
from omegaconf import DictConfig
from torch.utils.flop_counter import FlopCounterMode

from colab_utils.runtime import GPU
from colab_utils.tasks import Task

PEAK_TFLOPS = {
    "T4": 65.0,
    "L4": 121.0,
    "A100": 312.0,
    "H100": 989.0,
    "V100": 125.0,
    "A10": 125.0,
    "P100": 18.7,
}
ASSUMED_EFFICIENCY = 0.15
SESSION_HOURS = 11.5  # what a free Colab session gives at best


def peak_tflops(gpu: GPU) -> float | None:
    for name, peak in PEAK_TFLOPS.items():
        if name in gpu.name.upper().replace("NVIDIA", ""):
            return peak
    return None


def training_flops(task: Task, cfg: DictConfig, batch: object) -> float:
    """FLOPs of one training step on ``batch`` (counted on the meta device)."""
    model = task.build_model(cfg, torch.device("cpu"))
    model.set_device(torch.device("meta"))
    with FlopCounterMode(display=False) as counter:
        loss, _, _ = model.forward_loss(deep_to(batch, device=torch.device("meta")))
        loss.backward()
    return float(counter.get_total_flops())


@dataclass(frozen=True)
class Estimate:
    flops_per_sample: float
    seconds_per_epoch: float
    epochs: int

    @property
    def hours(self) -> float:
        return self.seconds_per_epoch * self.epochs / 3600

    @property
    def sessions(self) -> int:
        return max(1, math.ceil(self.hours / SESSION_HOURS))

    def text(self, gpu: GPU) -> str:
        return (
            f"Estimate on {gpu.name}: {self.flops_per_sample / 1e9:.0f} GFLOP per training sample, "
            f"~{self.seconds_per_epoch / 60:.0f} min per epoch, {self.epochs} epochs = ~{self.hours:.0f} h "
            f"= ~{self.sessions} Colab session(s) of {SESSION_HOURS:g} h (assumes {ASSUMED_EFFICIENCY:.0%} "
            "of the GPU's fp16/bf16 peak; early stopping may end sooner; the progress bar has the real rate)."
        )


def estimate(
    task: Task,
    cfg: DictConfig,
    batch: object,
    batch_size: int,
    train_samples: int,
    val_samples: int,
    gpu: GPU,
) -> Estimate | None:
    """Time per epoch (training + validation) for the full recipe on ``gpu``; None if its peak is unknown."""
    peak = peak_tflops(gpu)
    if peak is None:
        return None
    per_sample = training_flops(task, cfg, batch) / batch_size
    work = per_sample * train_samples + per_sample / 3 * val_samples  # validation: forward only
    return Estimate(per_sample, work / (peak * 1e12 * ASSUMED_EFFICIENCY), int(cfg.train.epochs))
