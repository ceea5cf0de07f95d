"""Which clips of a training split choose the best weights instead of being trained on.

A dataset whose only labelled splits are train and test (SoccerNet tracking-2023) must not
choose its best weights on test: the score reported on test would then be biased upward. A
fixed part of the training clips is held out instead: every ``every``-th clip in the order of
their names, starting with the first. Whole clips, never frames of a clip (neighbouring frames
of one clip are nearly the same picture), and the same clips in every session and on every
machine, since the choice depends on nothing but the names.
"""

from __future__ import annotations

from collections.abc import Iterable

from colab_utils.config import ConfigError
from colab_utils.errors import DataError

HELD_OUT = "heldout"
"""The ``data.val_split`` that means: held-out clips of ``data.train_split``."""


def held_out_names(names: Iterable[str], every: int) -> list[str]:
    """The names held out for selection: every ``every``-th by sorted name, the first included.

    At least one name is held out and at least one is left for training; otherwise a
    :class:`DataError` says what to change.
    """
    if int(every) < 2:
        raise ConfigError(f"data.heldout_every={every}: it must be 2 or more (1 would hold out every clip).")
    ordered = sorted(set(names))
    if len(ordered) < 2:
        raise DataError(
            f"{len(ordered)} clip(s) to train on: holding clips out to choose the best weights needs at "
            "least 2. Add clips, or set data.val_split to a labelled split other than the test split."
        )
    return ordered[:: int(every)]
