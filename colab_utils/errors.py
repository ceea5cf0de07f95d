"""Failures the library knows, whose message says what to do.

Each is shown as its message alone: the CLI prints ``error: <message>`` and exits 2, and a
notebook (IPython, Colab) shows ``<Kind>: <message>`` instead of a traceback through the
library's internals, which would bury the one line that matters. Failures the library does
not know keep their traceback. This module imports nothing, so every other may use it.
"""

from __future__ import annotations

EXIT_CODE = 2


class UserError(Exception):
    """Mixed into an exception class whose message tells the user what to do."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows for this exception in place of the traceback."""
        return [f"{type(self).__name__}: {self}"]


class DataError(UserError, ValueError):
    """Data missing, in the wrong place or unusable: the data step says what to run or fix."""


class DataNotPrepared(UserError, FileNotFoundError):
    """The data step has not run in this runtime (its disk is new), or its files are missing."""


class DownloadRefused(UserError, PermissionError):
    """The server wants a login, accepted terms, or fewer requests."""


class DownloadMissing(UserError, FileNotFoundError):
    """The server has no such file, or a file did not arrive."""


class DownloadUnavailable(UserError, ConnectionError):
    """The server could not be reached, or had trouble on its side; running again may work."""


class DownloadFailed(UserError, RuntimeError):
    """The server answered with another error, or a file arrived damaged."""


class InputError(UserError, ValueError):
    """A user's frames or video cannot be read or written: the message says what to give instead."""


class InitFromError(UserError, ValueError):
    """``model.init_from`` names weights that cannot start this run; the run folder is untouched."""
