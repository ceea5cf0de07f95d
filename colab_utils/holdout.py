"""Which clips (or matches, actions, identities) choose the best weights instead of being trained on.

A dataset whose only labelled splits are train and test (SoccerNet tracking-2023) must not
choose its best weights on test: the score reported on test would then be biased upward. A
fixed part of the training clips is held out instead: every ``every``-th clip in the order of
their names, starting with the first. Whole clips, never frames of a clip (neighbouring frames
of one clip are nearly the same picture), and the same clips in every session and on every
machine, since the choice depends on nothing but the names. A user folder without a validation
split is held out by the same rule (:func:`hold_out`, one in :data:`FOLDER_EVERY`).
"""

from __future__ import annotations

from collections.abc import Iterable

from colab_utils.config import ConfigError
from colab_utils.errors import DataError

FOLDER_EVERY = 5
"""A user folder without a validation split: one group in five (20 %) is held out."""
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


def hold_out(groups: Iterable[str], what: str) -> tuple[set[str], str]:
    """A user folder's validation groups (``what``: their plural name), and the sentence that says how."""
    names = sorted(set(groups))
    if len(names) < 2:
        raise DataError(
            f"{len(names)} {what} found: holding out whole {what} for validation needs two or more. "
            "Add a valid/ folder beside train/ in data.folder, or more of them."
        )
    held = held_out_names(names, FOLDER_EVERY)
    shown = ", ".join(held[:5]) + (" ..." if len(held) > 5 else "")
    note = (
        f"No validation split in data.folder: held out {len(held)} of {len(names)} {what} (one in "
        f"{FOLDER_EVERY} by sorted name, the first included, the same every run): {shown}."
    )
    return set(held), note
