"""Google Drive failing under the run folder while training writes to it.

In Colab, Drive is a FUSE mount. When the process behind it dies, every file operation under
/content/drive fails with ``[Errno 107] Transport endpoint is not connected`` (ENOTCONN); a
flaky sync shows up as EIO or ESTALE. A forced remount usually brings it back, so in Colab a
failed write remounts once and is tried again. When that fails too (or outside Colab, where
there is nothing to remount) training stops with what happened and how to go on: the
checkpoints written before are on Drive, checksummed, and the next start resumes from them.

What a stop says about Drive's background upload is the Drive callback's (callbacks/drive.py).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from colab_utils import runtime as rt
from colab_utils.errors import UserError

DRIVE_ERRNOS = frozenset({errno.ENOTCONN, errno.EIO, errno.ESTALE})
T = TypeVar("T")


class DriveStoppedAnswering(UserError, RuntimeError):
    """A write to the run folder failed with a Drive error, also after a remount."""


def is_drive_error(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in DRIVE_ERRNOS


class DriveWriter:
    """Runs the trainer's writes to the run folder; a Drive error gets one remount and one retry.

    ``last_checkpoint`` is the newest step checkpoint known to be written (the trainer updates it),
    named in the message when training has to stop.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.last_checkpoint: Path | None = None

    def write(self, what: str, action: Callable[..., T], *args: Any) -> T:
        """``action(*args)``, which writes ``what`` (e.g. "best.pth"); it must be safe to repeat."""
        try:
            return action(*args)
        except OSError as error:
            if not is_drive_error(error):
                raise
            failure: BaseException = error
        remounted = self._remount(what, failure)
        if remounted:
            try:
                return action(*args)
            except OSError as error:
                if not is_drive_error(error):
                    raise
                failure = error
        raise DriveStoppedAnswering(self.message(what, failure, remounted)) from failure

    def _remount(self, what: str, error: BaseException) -> bool:
        """In Colab, with the run folder on the Drive mount: remount it; True when that worked."""
        if not (rt.in_colab() and self.run_dir.is_relative_to(rt.COLAB_MOUNTPOINT)):
            return False
        print(
            f"Google Drive stopped answering while writing {what} ({error}). Remounting Drive (accept the "
            "permission dialog if Colab shows one) and writing it again."
        )
        try:
            rt.remount_drive()
        except Exception as failed:  # the Colab client raises plain exceptions with a text
            print(f"Remounting Drive failed: {failed}")
            return False
        return True

    def message(self, what: str, error: BaseException, remounted: bool) -> str:
        if self.last_checkpoint is not None:
            kept = (
                f"The last checkpoint written before, {self.last_checkpoint.name}, is kept: the next start "
                f"verifies it and resumes from it (or from the one before, should it not have fully reached "
                "Drive)."
            )
            resume = f"training resumes from {self.last_checkpoint.name}"
        else:
            kept = "No checkpoint of this run was written yet."
            resume = "training starts again from the beginning"
        return (
            f"Google Drive stopped answering while writing {what} in {self.run_dir}: {error}"
            + (" (also after remounting Drive)" if remounted else "")
            + f". Training stopped. {kept}\n"
            f"To go on: restart the session (Colab: Runtime > Restart session), then run all cells again "
            f"(Runtime > Run all): {resume}. If Drive keeps failing, set {rt.DRIVE_ENV} to a folder on the "
            "runtime's disk (e.g. /content/local_runs; lost when the runtime is deleted)."
        )
