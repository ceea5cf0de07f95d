"""Where training stands: the counters a checkpoint keeps and the callbacks read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Progress:
    """Where training stands; ``batch`` counts the batches already done in ``epoch``."""

    epoch: int = 0
    batch: int = 0
    global_step: int = 0
    optimizer_steps: int = 0
    train_seconds: float = 0.0
    loss_sum: float = 0.0
    loss_count: int = 0
