"""Stopping a cell cleanly: the first Ctrl-C / "Interrupt execution" asks for a stop.

Python turns SIGINT into KeyboardInterrupt wherever the program happens to be, possibly
in the middle of an optimizer step, where saving would capture half-updated weights.
While training, the first interrupt only raises a flag; the trainer finishes the batch,
writes a checkpoint and then raises KeyboardInterrupt itself. A second interrupt stops
at once (the last periodic checkpoint still stands).
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType, TracebackType


class DeferredInterrupt:
    """Context manager that turns the first SIGINT into a flag."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None
        self._owner = os.getpid()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self._owner:
            return  # a loader worker forked while the handler was set: the main process decides, quietly
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nStop requested: finishing this batch and saving a checkpoint (interrupt again to stop now).")

    def __enter__(self) -> DeferredInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
