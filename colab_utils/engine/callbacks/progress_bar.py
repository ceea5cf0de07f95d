"""The progress bars: one tqdm bar per epoch, with rate, ETA, running loss and learning rate, and
one while the epoch validates (gone once validation ends: the epoch's line says the result)."""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from colab_utils.engine.callbacks.base import BatchEnd, Callback, EpochEnd, TrainerView


class ProgressBar(Callback):
    """The bar closes before anything else is printed: at a stop's checkpoint, validation, the epoch's end."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs
        self.bar: tqdm | None = None

    def on_epoch_start(self, trainer: TrainerView) -> None:
        progress = trainer.progress
        self.bar = tqdm(
            total=trainer.batches_per_epoch,
            initial=progress.batch,
            desc=f"epoch {progress.epoch + 1}/{self.epochs}",
            unit="batch",
        )

    def on_batch_end(self, trainer: TrainerView, batch: BatchEnd) -> None:
        if self.bar is not None:
            loss = trainer.progress.loss_sum / trainer.progress.loss_count
            self.bar.set_postfix(loss=f"{loss:.4g}", lr=f"{trainer.lr():.2e}", refresh=False)
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
        self._close()

    def on_epoch_end(self, trainer: TrainerView, epoch: EpochEnd) -> None:
        self._close()

    def on_train_end(self, trainer: TrainerView, status: str) -> None:
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
