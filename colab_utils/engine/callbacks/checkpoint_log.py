"""One line per checkpoint written: its step, why it was written and how long the write took.

The user sees that training is being kept safe, and a slow Drive shows in the seconds."""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from colab_utils.engine.callbacks.base import Callback, TrainerView


class CheckpointLog(Callback):
    """Prints ``checkpoint step 120 (periodic): step-000000120.pth, 2.8 s`` below the progress bar."""

    def on_checkpoint_written(self, trainer: TrainerView, path: Path, reason: str) -> None:
        step = trainer.progress.global_step
        tqdm.write(f"checkpoint step {step} ({reason}): {path.name}, {trainer.last_save_s:.1f} s")
