"""What training says about Google Drive: a data folder on Drive at the start, the upload at a stop.

Drive uploads in the background: a file written a moment ago may not be in the cloud yet, so a
stop before the session's end says to stay connected a minute. (Drive failing under a write is
handled where the trainer writes: ``colab_utils/engine/drive_errors.py``.)
"""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import DictConfig

from colab_utils import runtime as rt
from colab_utils.engine.callbacks.base import Callback, TrainerView

STOPS_BEFORE_THE_END = ("time_budget", "stopped_by_peer")


def data_on_drive_warning(cfg: DictConfig) -> str | None:
    """The warning for a data folder on Google Drive, or None."""
    if not rt.on_google_drive(cfg.run.data_dir):
        return None
    return (
        f"The data folder {cfg.run.data_dir} (run.data_dir) is on Google Drive: every sample is read "
        "over the network, which can make training several times slower. Keep the data on the runtime's "
        f"local disk (run.data_dir={rt.COLAB_DATA_DIR}, or leave {rt.DATA_ENV} unset) and run the data "
        "step again."
    )


def drive_upload_note(run_dir: Path) -> str | None:
    """After the last write of a session to Drive in Colab: flush it to the mount and say what is left.

    ``os.sync`` hands the written files to Drive's FUSE process; uploading them takes a little longer.
    Returns None off Colab or when the run folder is not on Drive.
    """
    if not (rt.in_colab() and rt.on_google_drive(run_dir)):
        return None
    os.sync()
    return (
        "Drive uploads the newest files in the background: keep this runtime connected for a minute "
        "before closing it. A checkpoint that does not finish uploading is detected on resume and the "
        "previous one is used."
    )


class DriveNotes(Callback):
    """The data-on-Drive warning when training starts, the upload note when it stops before the end."""

    def on_train_start(self, trainer: TrainerView) -> None:
        warning = data_on_drive_warning(trainer.cfg)
        if warning:
            print(warning)

    def on_train_end(self, trainer: TrainerView, status: str) -> None:
        note = drive_upload_note(trainer.run_dir) if status in STOPS_BEFORE_THE_END else None
        if note:
            print(note)
