"""Optional experiment trackers: Weights & Biases and TensorBoard.

The W&B key comes from Colab Secrets (``WANDB_API_KEY``) or the environment and is never
printed; a run resumed after a disconnect continues the same W&B run. Without a key
(or without the package) the tracker is skipped with one line saying why.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from colab_utils.engine.callbacks.base import Callback, EpochEnd, TrainerView
from colab_utils.runtime import secret


class Trackers(Callback):
    """Each epoch's metrics row to W&B and/or TensorBoard (``logging.wandb``, ``logging.tensorboard``)."""

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg
        self.wandb = None
        self.tensorboard = None

    def on_train_start(self, trainer: TrainerView) -> None:
        if self.cfg.logging.wandb:
            self.wandb = self._start_wandb(self.cfg, trainer.run_dir)
        if self.cfg.logging.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step drops events logged after the checkpoint we resume from
            resume_step = trainer.progress.global_step or None
            self.tensorboard = SummaryWriter(str(trainer.run_dir / "tensorboard"), purge_step=resume_step)

    def on_epoch_end(self, trainer: TrainerView, epoch: EpochEnd) -> None:
        self.log(epoch.row, trainer.progress.global_step)

    def on_train_end(self, trainer: TrainerView, status: str) -> None:
        self.close()

    @staticmethod
    def _start_wandb(cfg: DictConfig, run_dir: Path) -> Any:
        try:
            import wandb
        except ImportError:
            print("W&B logging skipped: install it with `pip install wandb`.")
            return None
        offline = os.environ.get("WANDB_MODE") in ("offline", "disabled")
        key = secret("WANDB_API_KEY")
        if not key and not offline:
            print("W&B logging skipped: add WANDB_API_KEY to Colab Secrets (key icon) or the environment.")
            return None
        if key:
            os.environ["WANDB_API_KEY"] = key
        run_id = hashlib.sha1(str(run_dir).encode()).hexdigest()[:16]
        return wandb.init(
            project=cfg.logging.wandb_project,
            name=f"{cfg.run.model}/{cfg.run.name}",
            id=run_id,
            resume="allow",
            dir=str(run_dir),
            config=OmegaConf.to_container(cfg, resolve=True),
        )

    def log(self, row: dict[str, float], step: int) -> None:
        if self.wandb is not None:
            self.wandb.log(row, step=step)
        if self.tensorboard is not None:
            for key, value in row.items():
                self.tensorboard.add_scalar(key, value, step)
            self.tensorboard.flush()

    def close(self) -> None:
        if self.wandb is not None:
            self.wandb.finish()
        if self.tensorboard is not None:
            self.tensorboard.close()
        self.wandb = self.tensorboard = None
