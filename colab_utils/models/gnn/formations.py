"""Formation templates, the role vocabulary, and the rule that labels a team's formation.

Tracking data do not say which formation a team plays, so the gnn model's formation labels
are derived from the positions by one fixed rule, applied to each team in each window:

1. **Who**: the team's players present (finite position) in at least half of the window's
   frames. The goalkeeper (role "GK" from the match metadata; without one, the player whose
   mean x is nearest to a goal line) is set aside; the others are the outfield players. If
   more than 10 qualify (a substitution inside the window), the 10 present longest are kept;
   if fewer than 10 remain (a red card, players missing from the data) the window gets no
   label (-1, masked out of the loss).
2. **Mean shape**: each outfield player's mean position over the frames where present.
3. **Attacking direction**: the shape is turned by 180 degrees (x -> -x, y -> -y, which keeps
   left and right) when the goalkeeper's mean x is positive, so the team always attacks +x.
4. **Size**: the shape is centred on its mean and each axis is divided by its standard
   deviation (depth and width separately): a compact pressing block and a stretched
   attacking shape of the same formation then look alike, and only the arrangement counts.
   Every template is normalised the same way.
5. **Match**: for each template, players are assigned one-to-one to its 10 slots by
   minimum total squared distance (``scipy.optimize.linear_sum_assignment``, the Hungarian
   method); the label is the template with the smallest total, ties going to the earlier
   template in the configured list.

Template coordinates are metres in a team frame that attacks +x with the player's left at
+y (SkillCorner's axes: y points to the top touch line), back line at depth 0. Slot roles
use :data:`ROLES`, a fixed vocabulary built from SkillCorner's ``player_role`` list;
:func:`role_index` maps the names and acronyms found in match files onto it (substitutes
and unknown roles map to -1: no label).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

NO_LABEL = -1
OUTFIELD = 10

ROLES: tuple[str, ...] = (
    "GK",
    "LB",
    "LCB",
    "CB",
    "RCB",
    "RB",
    "LWB",
    "RWB",
    "LDM",
    "DM",
    "RDM",
    "LM",
    "CM",
    "RM",
    "AM",
    "LW",
    "RW",
    "LF",
    "CF",
    "RF",
)
"""Role classes (SkillCorner acronyms). Centre-back pairs are LCB/RCB, a lone one CB."""

ROLE_NAMES: dict[str, str] = {
    "GK": "Goalkeeper",
    "LB": "Left Back",
    "LCB": "Left Center Back",
    "CB": "Center Back",
    "RCB": "Right Center Back",
    "RB": "Right Back",
    "LWB": "Left Wing Back",
    "RWB": "Right Wing Back",
    "LDM": "Left Defensive Midfield",
    "DM": "Defensive Midfield",
    "RDM": "Right Defensive Midfield",
    "LM": "Left Midfield",
    "CM": "Center Midfield",
    "RM": "Right Midfield",
    "AM": "Attacking Midfield",
    "LW": "Left Winger",
    "RW": "Right Winger",
    "LF": "Left Forward",
    "CF": "Center Forward",
    "RF": "Right Forward",
}

# Other spellings seen in match files and in kloppy's PositionType names.
_ALIASES: dict[str, str] = {
    "leftfullback": "LB",
    "rightfullback": "RB",
    "centerdefensivemidfield": "DM",
    "cdm": "DM",
    "leftcentermidfield": "CM",
    "rightcentermidfield": "CM",
    "lcm": "CM",
    "rcm": "CM",
    "centerattackingmidfield": "AM",
    "cam": "AM",
    "leftwing": "LW",
    "rightwing": "RW",
    "striker": "CF",
    "st": "CF",
}


def _key(text: str) -> str:
    text = text.lower().replace("centre", "center").replace("central", "center")
    return re.sub(r"[^a-z]", "", text)


_LOOKUP: dict[str, int] = {
    **{_key(acronym): i for i, acronym in enumerate(ROLES)},
    **{_key(ROLE_NAMES[acronym]): i for i, acronym in enumerate(ROLES)},
    **{alias: ROLES.index(acronym) for alias, acronym in _ALIASES.items()},
}


GOALKEEPER = ROLES.index("GK")


def _mirrored(acronym: str) -> str:
    """The same role on the other side (LB <-> RB, LCB <-> RCB, ...); central roles stay."""
    swap = {"L": "R", "R": "L"}
    other = swap[acronym[0]] + acronym[1:] if acronym[0] in swap else acronym
    return other if other in ROLES else acronym


_MIRROR = np.array([ROLES.index(_mirrored(role)) for role in ROLES])


def mirror_roles(roles: np.ndarray) -> np.ndarray:
    """Role classes seen in a mirror, left <-> right (what a single flip of the pitch does); -1 stays."""
    return np.where(roles >= 0, _MIRROR[np.maximum(roles, 0)], NO_LABEL)


def role_index(name: str | None) -> int:
    """The class of a role name or acronym ("Left Center Back", "LCB"); -1 for substitutes and unknowns."""
    if not name:
        return NO_LABEL
    return _LOOKUP.get(_key(name), NO_LABEL)


@dataclass(frozen=True)
class Formation:
    """A formation's 10 outfield slots: (depth, width) in metres and the role of each."""

    name: str
    slots: tuple[tuple[float, float, str], ...]

    @property
    def points(self) -> np.ndarray:
        return np.array([(x, y) for x, y, _ in self.slots], dtype=np.float64)

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(role for _, _, role in self.slots)


_BACK_FOUR = ((0.0, 24.0, "LB"), (0.0, 8.0, "LCB"), (0.0, -8.0, "RCB"), (0.0, -24.0, "RB"))
_BACK_THREE = ((0.0, 15.0, "LCB"), (0.0, 0.0, "CB"), (0.0, -15.0, "RCB"))

FORMATIONS: dict[str, Formation] = {
    f.name: f
    for f in (
        Formation(
            "4-4-2",
            (
                *_BACK_FOUR,
                (16.0, 24.0, "LM"),
                (15.0, 8.0, "CM"),
                (15.0, -8.0, "CM"),
                (16.0, -24.0, "RM"),
                (31.0, 7.0, "LF"),
                (31.0, -7.0, "RF"),
            ),
        ),
        Formation(
            "4-3-3",
            (
                *_BACK_FOUR,
                (9.0, 0.0, "DM"),
                (18.0, 13.0, "CM"),
                (18.0, -13.0, "CM"),
                (32.0, 23.0, "LW"),
                (35.0, 0.0, "CF"),
                (32.0, -23.0, "RW"),
            ),
        ),
        Formation(
            "3-5-2",
            (
                *_BACK_THREE,
                (15.0, 28.0, "LWB"),
                (9.0, 0.0, "DM"),
                (17.0, 11.0, "CM"),
                (17.0, -11.0, "CM"),
                (15.0, -28.0, "RWB"),
                (32.0, 7.0, "LF"),
                (32.0, -7.0, "RF"),
            ),
        ),
        Formation(
            "4-2-3-1",
            (
                *_BACK_FOUR,
                (10.0, 8.0, "LDM"),
                (10.0, -8.0, "RDM"),
                (24.0, 23.0, "LW"),
                (22.0, 0.0, "AM"),
                (24.0, -23.0, "RW"),
                (35.0, 0.0, "CF"),
            ),
        ),
        Formation(
            "5-3-2",
            (
                (3.0, 28.0, "LWB"),
                *_BACK_THREE,
                (3.0, -28.0, "RWB"),
                (14.0, 14.0, "CM"),
                (12.0, 0.0, "DM"),
                (14.0, -14.0, "CM"),
                (30.0, 7.0, "LF"),
                (30.0, -7.0, "RF"),
            ),
        ),
        Formation(
            "3-4-3",
            (
                *_BACK_THREE,
                (15.0, 27.0, "LWB"),
                (13.0, 8.0, "CM"),
                (13.0, -8.0, "CM"),
                (15.0, -27.0, "RWB"),
                (31.0, 20.0, "LW"),
                (34.0, 0.0, "CF"),
                (31.0, -20.0, "RW"),
            ),
        ),
    )
}
"""Every template the rule knows; a config picks the ones it labels with (``data.formations``)."""


def normalise_shape(points: np.ndarray) -> np.ndarray:
    """(..., n, 2) -> each shape centred, each axis divided by its standard deviation (step 4 of the rule)."""
    centred = points - points.mean(axis=-2, keepdims=True)
    return centred / np.maximum(centred.std(axis=-2, keepdims=True), 1e-6)


def assignment_costs(shapes: np.ndarray, templates: Sequence[Formation]) -> np.ndarray:
    """(..., len(templates)) total squared distance of the best one-to-one assignment of each team's
    10 outfield mean positions (..., 10, 2), attacking +x, to each template's slots, both normalised
    (steps 4 and 5). The distances come for all shapes at once; the assignment is one per shape."""
    normalised = normalise_shape(shapes).reshape(-1, OUTFIELD, 2)
    costs = np.empty((len(normalised), len(templates)))
    for column, template in enumerate(templates):
        slots = normalise_shape(template.points)
        distances = ((normalised[:, :, None, :] - slots[None, None, :, :]) ** 2).sum(axis=-1)
        for row, cost in enumerate(distances):
            players, chosen = linear_sum_assignment(cost)
            costs[row, column] = cost[players, chosen].sum()
    return costs.reshape(*shapes.shape[:-2], len(templates))


def nearest_formation(shape: np.ndarray, templates: Sequence[Formation]) -> int:
    """Index in ``templates`` of the formation nearest to a 10-player shape (step 5 of the rule)."""
    if shape.shape != (OUTFIELD, 2) or not np.isfinite(shape).all():
        raise ValueError(f"a formation shape is {OUTFIELD} finite (x, y) points, got {shape.shape}")
    return int(np.argmin(assignment_costs(shape, templates)))


def templates_named(names: Sequence[str]) -> list[Formation]:
    """The templates in the order of ``names`` (the model's formation classes)."""
    unknown = [n for n in names if n not in FORMATIONS]
    if unknown:
        raise ValueError(f"unknown formations {unknown}; known: {', '.join(FORMATIONS)}")
    return [FORMATIONS[n] for n in names]


def presence(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frames present (..., n) and mean position (..., n, 2) of each player over positions (..., T, n, 2)."""
    counts = np.isfinite(positions).all(axis=-1).sum(axis=-2)
    return counts, np.nansum(positions, axis=-3) / np.maximum(counts, 1)[..., None]


def outfield_shape(
    counts: np.ndarray, means: np.ndarray, goalkeeper: np.ndarray, frames: int
) -> np.ndarray | None:
    """Steps 1-3 of the rule from each of a team's n players' frames present (n,) and mean position
    (n, 2) over a window of ``frames``: the (10, 2) mean outfield shape attacking +x, or None.

    ``goalkeeper`` (n,) flags the players whose role is goalkeeper.
    """
    regular = counts * 2 >= frames
    if not regular.any():
        return None
    keepers = np.flatnonzero(regular & goalkeeper)
    if len(keepers):
        keeper = keepers[np.argmax(counts[keepers])]
    else:
        candidates = np.flatnonzero(regular)
        keeper = candidates[np.argmax(np.abs(means[candidates, 0]))]
    outfield = np.flatnonzero(regular & (np.arange(len(regular)) != keeper) & ~goalkeeper)
    if len(outfield) < OUTFIELD:
        return None
    outfield = outfield[np.argsort(-counts[outfield], kind="stable")[:OUTFIELD]]
    shape = means[outfield]
    return -shape if means[keeper, 0] > 0 else shape


def team_shape(positions: np.ndarray, goalkeeper: np.ndarray) -> np.ndarray | None:
    """Steps 1-3 of the rule: a team's (10, 2) mean outfield shape attacking +x, or None.

    ``positions`` (T, n, 2) are the team's players over the window (NaN where absent);
    ``goalkeeper`` (n,) flags the players whose role is goalkeeper.
    """
    return outfield_shape(*presence(positions), goalkeeper, len(positions))


def label_formation(positions: np.ndarray, goalkeeper: np.ndarray, templates: Sequence[Formation]) -> int:
    """The whole rule: the formation class of one team over one window, or -1 (no label)."""
    shape = team_shape(positions, goalkeeper)
    return NO_LABEL if shape is None else nearest_formation(shape, templates)
