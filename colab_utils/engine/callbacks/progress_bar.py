"""The progress bars: one tqdm bar per epoch, with rate, ETA, running loss, learning rate and the
time the whole run has left at the rate measured in this session (``left``), and one while the epoch
validates (gone once validation ends: the epoch's line says the result)."""

from __future__ import annotations

import math
import time
from pathlib import Path

from tqdm.auto import tqdm

from colab_utils.engine.callbacks.base import BatchEnd, Callback, EpochEnd, TrainerView
from colab_utils.engine.estimate import SESSION_HOURS


def run_time_left(
    epochs: int, epoch: int, batch: int, batches_per_epoch: int, batch_s: float, validation_s: float
) -> float:
    """Seconds until ``epochs`` are done from ``batch`` of ``epoch``, at the measured seconds per
    batch and per validation (one validation per epoch, this one's included)."""
    batches = (epochs - epoch) * batches_per_epoch - batch
    return batches * batch_s + (epochs - epoch) * validation_s


def left_text(seconds: float) -> str:
    """``"3.2 h (1 session)"``: hours left and the Colab sessions they take."""
    sessions = max(1, math.ceil(seconds / 3600 / SESSION_HOURS))
    return f"{seconds / 3600:.1f} h ({sessions} session{'s' if sessions > 1 else ''})"


class ProgressBar(Callback):
    """The bar closes before anything else is printed: at a stop's checkpoint, validation, the epoch's end."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs
        self.bar: tqdm | None = None
        self.timed_from: float | None = None  # after this session's first batch (workers started)
        self.timed_batches = 0
        self.last_batch_end = 0.0
        self.validation_s = 0.0

    def on_epoch_start(self, trainer: TrainerView) -> None:
        progress = trainer.progress
        self.bar = tqdm(
            total=trainer.batches_per_epoch,
            initial=progress.batch,
            desc=f"epoch {progress.epoch + 1}/{self.epochs}",
            unit="batch",
        )

    def on_batch_end(self, trainer: TrainerView, batch: BatchEnd) -> None:
        now = time.perf_counter()
        self.last_batch_end = now
        if self.timed_from is None:
            self.timed_from = now
        else:
            self.timed_batches += 1
        if self.bar is not None:
            progress = trainer.progress
            loss = progress.loss_sum / progress.loss_count
            postfix = {"loss": f"{loss:.4g}", "lr": f"{trainer.lr():.2e}"}
            if self.timed_batches:
                batch_s = (now - self.timed_from) / self.timed_batches
                left = run_time_left(
                    self.epochs,
                    progress.epoch,
                    progress.batch,
                    trainer.batches_per_epoch,
                    batch_s,
                    self.validation_s,
                )
                postfix["left"] = left_text(left)
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(1)

    def on_checkpoint_written(self, trainer: TrainerView, path: Path, reason: str) -> None:
        if reason != "periodic":
            self._close()

    def on_validation_start(self, trainer: TrainerView, batches: int) -> None:
        self._close()
        self.bar = tqdm(
            total=batches, desc=f"validation {trainer.progress.epoch + 1}", unit="batch", leave=False
        )

    def on_validation_batch_end(self, trainer: TrainerView) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def on_validation_end(self, trainer: TrainerView, metrics: dict[str, float]) -> None:
        self.validation_s = time.perf_counter() - self.last_batch_end
        if self.timed_from is not None:  # the time per batch leaves validation out
            self.timed_from += self.validation_s
        self._close()

    def on_epoch_end(self, trainer: TrainerView, epoch: EpochEnd) -> None:
        self._close()

    def on_train_end(self, trainer: TrainerView, status: str) -> None:
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
