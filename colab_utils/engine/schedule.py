"""Learning-rate schedules and the monitored metric (best checkpoint, early stopping).

Both keep their state in plain values so a checkpoint can restore them exactly: a resumed
run reduces its learning rate and stops early at the same epochs as an uninterrupted one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from omegaconf import DictConfig

SCHEDULERS = ("none", "plateau", "cosine", "step")


class LRSchedule:
    """A torch scheduler stepped at the cadence it needs: per optimizer step or per epoch."""

    def __init__(
        self, cfg: DictConfig, optimizer: torch.optim.Optimizer, total_steps: int, mode: str
    ) -> None:
        self.name = cfg.name
        if self.name not in SCHEDULERS:
            raise ValueError(f"train.scheduler.name={self.name!r} is not one of {', '.join(SCHEDULERS)}")
        self.scheduler: Any = None
        if self.name == "plateau":
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode=mode, factor=cfg.factor, patience=cfg.patience, min_lr=cfg.min_lr
            )
        elif self.name == "step":
            self.scheduler = torch.optim.lr_scheduler.StepLR(
                optimizer, step_size=cfg.step_epochs, gamma=cfg.factor
            )
        elif self.name == "cosine":
            warmup, floor = int(cfg.warmup_steps), float(cfg.min_lr)
            base = optimizer.param_groups[0]["lr"]

            def factor(step: int) -> float:
                if step < warmup:
                    return (step + 1) / warmup
                progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
                cosine = 0.5 * (1 + math.cos(math.pi * progress))
                return floor / base + (1 - floor / base) * cosine

            self.scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    def after_optimizer_step(self) -> None:
        if self.name == "cosine":
            self.scheduler.step()

    def after_epoch(self, monitored: float | None) -> None:
        if self.name == "step":
            self.scheduler.step()
        elif self.name == "plateau" and monitored is not None:
            self.scheduler.step(monitored)

    def state_dict(self) -> dict[str, Any]:
        return {} if self.scheduler is None else self.scheduler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scheduler is not None and state:
            self.scheduler.load_state_dict(state)


@dataclass
class Monitor:
    """Tracks the monitored metric: is this epoch the best so far, and has patience run out?"""

    metric: str
    mode: str = "min"
    patience: int | None = None
    best: float | None = None
    best_epoch: int | None = None
    wait: int = 0

    def __post_init__(self) -> None:
        if self.mode not in ("min", "max"):
            raise ValueError(f"train.monitor_mode must be 'min' or 'max', got {self.mode!r}")

    def update(self, value: float, epoch: int) -> bool:
        """Record one epoch's value; True when it is the best so far, a tie included.

        A tie keeps the latest weights (they trained longer: a smoke run whose metric stays 0
        keeps its last epoch, not its first), but only a strict improvement resets the patience,
        so a metric stuck at one value still stops early.
        """
        if not math.isfinite(value):
            self.wait += 1
            return False
        improved = self.best is None or (value < self.best if self.mode == "min" else value > self.best)
        best_so_far = improved or value == self.best
        if best_so_far:
            self.best, self.best_epoch = value, epoch
        self.wait = 0 if improved else self.wait + 1
        return best_so_far

    @property
    def exhausted(self) -> bool:
        return self.patience is not None and self.wait >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
