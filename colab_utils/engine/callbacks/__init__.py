"""What watches training, as callbacks the loop calls (``base.Callback``), one module each.

:func:`default_callbacks` builds the list a run gets from its config; ``fit(..., callbacks=...)``
adds more.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from colab_utils.engine.callbacks.base import BatchEnd, Callback, CallbackList, EpochEnd
from colab_utils.engine.callbacks.checkpoint_log import CheckpointLog
from colab_utils.engine.callbacks.drive import DriveNotes
from colab_utils.engine.callbacks.history import History
from colab_utils.engine.callbacks.live_curves import LiveCurves
from colab_utils.engine.callbacks.loader_wait import LoaderWait
from colab_utils.engine.callbacks.progress_bar import ProgressBar
from colab_utils.engine.callbacks.trackers import Trackers

__all__ = ["BatchEnd", "Callback", "CallbackList", "EpochEnd", "default_callbacks"]


def default_callbacks(cfg: DictConfig) -> list[Callback]:
    """The callbacks ``cfg.logging`` asks for, in the order they print: the bar, the checkpoint
    lines, the loader wait, Drive, metrics.csv, the trackers, then the curves (from metrics.csv's rows)."""
    run_dir = Path(cfg.run.dir)
    history = History(run_dir / "metrics.csv")
    callbacks: list[Callback] = []
    if cfg.logging.progress:
        callbacks.append(ProgressBar(int(cfg.train.epochs)))
    callbacks += [CheckpointLog(), LoaderWait(cfg), DriveNotes(), history]
    if cfg.logging.wandb or cfg.logging.tensorboard:
        callbacks.append(Trackers(cfg))
    if cfg.logging.live_plot:
        every = int(cfg.logging.curve_every_steps)
        callbacks.append(
            LiveCurves(run_dir, str(cfg.train.monitor), str(cfg.train.monitor_mode), history, every)
        )
    return callbacks
