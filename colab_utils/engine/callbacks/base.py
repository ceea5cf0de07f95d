"""The hooks the training loop calls, so what watches training stays out of the loop.

Like Lightning's callbacks: each hook is a no-op here; a callback overrides those it needs.
The loop calls them in this order: ``on_train_start``; per epoch ``on_epoch_start``, then
``on_batch_end`` for every batch (``on_checkpoint_written`` after each checkpoint), when the
epoch validates ``on_validation_start``, ``on_validation_batch_end`` per batch and
``on_validation_end``, then ``on_epoch_end``; ``on_train_end`` last,
also when training stops early or fails. A callback changes no training state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from omegaconf import DictConfig

from colab_utils.engine.drive_errors import DriveWriter
from colab_utils.engine.progress import Progress


class TrainerView(Protocol):
    """What a callback reads of the trainer, and the writer it uses for the run folder's files."""

    cfg: DictConfig
    run_dir: Path
    progress: Progress
    batches_per_epoch: int
    drive: DriveWriter
    last_save_s: float

    def lr(self) -> float: ...


@dataclass(frozen=True)
class BatchEnd:
    """One training batch done: its loss, the seconds the loop waited for it, the whole step's seconds."""

    loss: float
    data_wait_s: float
    step_s: float


@dataclass(frozen=True)
class EpochEnd:
    """One epoch done: its metrics row (as in metrics.csv) and whether the monitored metric improved."""

    row: dict[str, Any]
    improved: bool


class Callback:
    """Base class: every hook does nothing."""

    def on_train_start(self, trainer: TrainerView) -> None:
        """Training is about to start (or continue from a checkpoint)."""

    def on_epoch_start(self, trainer: TrainerView) -> None:
        """A pass over the epoch's batches starts at ``trainer.progress.batch``."""

    def on_batch_end(self, trainer: TrainerView, batch: BatchEnd) -> None:
        """A batch was trained on; ``trainer.progress`` counts it."""

    def on_checkpoint_written(self, trainer: TrainerView, path: Path, reason: str) -> None:
        """A step checkpoint was written (reason: periodic, end of epoch, interrupted, time_budget...)."""

    def on_validation_start(self, trainer: TrainerView, batches: int) -> None:
        """The epoch's validation starts: ``batches`` batches."""

    def on_validation_batch_end(self, trainer: TrainerView) -> None:
        """One validation batch done."""

    def on_validation_end(self, trainer: TrainerView, metrics: dict[str, float]) -> None:
        """The epoch's validation finished with these metrics."""

    def on_epoch_end(self, trainer: TrainerView, epoch: EpochEnd) -> None:
        """The epoch's metrics are known; its checkpoint is written next."""

    def on_train_end(self, trainer: TrainerView, status: str) -> None:
        """Training ended: finished, early_stopped, max_steps, time_budget, interrupted, failed..."""


class CallbackList(Callback):
    """Calls each hook on every callback, in the list's order."""

    def __init__(self, callbacks: Sequence[Callback]) -> None:
        self.callbacks = list(callbacks)

    def on_train_start(self, trainer: TrainerView) -> None:
        for callback in self.callbacks:
            callback.on_train_start(trainer)

    def on_epoch_start(self, trainer: TrainerView) -> None:
        for callback in self.callbacks:
            callback.on_epoch_start(trainer)

    def on_batch_end(self, trainer: TrainerView, batch: BatchEnd) -> None:
        for callback in self.callbacks:
            callback.on_batch_end(trainer, batch)

    def on_checkpoint_written(self, trainer: TrainerView, path: Path, reason: str) -> None:
        for callback in self.callbacks:
            callback.on_checkpoint_written(trainer, path, reason)

    def on_validation_start(self, trainer: TrainerView, batches: int) -> None:
        for callback in self.callbacks:
            callback.on_validation_start(trainer, batches)

    def on_validation_batch_end(self, trainer: TrainerView) -> None:
        for callback in self.callbacks:
            callback.on_validation_batch_end(trainer)

    def on_validation_end(self, trainer: TrainerView, metrics: dict[str, float]) -> None:
        for callback in self.callbacks:
            callback.on_validation_end(trainer, metrics)

    def on_epoch_end(self, trainer: TrainerView, epoch: EpochEnd) -> None:
        for callback in self.callbacks:
            callback.on_epoch_end(trainer, epoch)

    def on_train_end(self, trainer: TrainerView, status: str) -> None:
        for callback in self.callbacks:
            callback.on_train_end(trainer, status)
