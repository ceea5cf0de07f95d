"""The football pitch as SoccerNet's calibration challenge models it.

World frame: origin at the centre mark, x along the length (left goal at x = -52.5),
y across (top touch line at y = -34), z pointing down (the crossbar is at z = -2.44).
Every marking is one of SoccerNet's 26 annotation classes; straight ones are segments,
round ones circle arcs. Everything here is plain numpy so that the metric, the target
builder, the renderer and the calibration all share one definition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LENGTH = 105.0
WIDTH = 68.0
PENALTY_AREA_LENGTH = 16.5
PENALTY_AREA_WIDTH = 40.32
GOAL_AREA_LENGTH = 5.5
GOAL_AREA_WIDTH = 18.32
PENALTY_MARK_DISTANCE = 11.0
CIRCLE_RADIUS = 9.15
GOAL_WIDTH = 7.32
GOAL_HEIGHT = 2.44

HALF_L = LENGTH / 2
HALF_W = WIDTH / 2
BIG_X = HALF_L - PENALTY_AREA_LENGTH  # 36.0
SMALL_X = HALF_L - GOAL_AREA_LENGTH  # 47.0
BIG_Y = PENALTY_AREA_WIDTH / 2  # 20.16
SMALL_Y = GOAL_AREA_WIDTH / 2  # 9.16
POST_Y = GOAL_WIDTH / 2  # 3.66
PENALTY_MARK_X = HALF_L - PENALTY_MARK_DISTANCE  # 41.5


@dataclass(frozen=True)
class Segment:
    """A straight marking from ``start`` to ``end`` (world metres)."""

    start: tuple[float, float, float]
    end: tuple[float, float, float]

    def sample(self, step: float) -> np.ndarray:
        a, b = np.asarray(self.start), np.asarray(self.end)
        n = max(2, int(np.ceil(np.linalg.norm(b - a) / step)) + 1)
        return a + np.linspace(0.0, 1.0, n)[:, None] * (b - a)


@dataclass(frozen=True)
class Arc:
    """A ground-plane circle arc: centre (x, y), radius, angles in radians (counter-clockwise in x-y)."""

    center: tuple[float, float]
    radius: float
    start_angle: float
    end_angle: float

    def sample(self, step: float) -> np.ndarray:
        sweep = self.end_angle - self.start_angle
        n = max(3, int(np.ceil(abs(sweep) * self.radius / step)) + 1)
        angles = np.linspace(self.start_angle, self.end_angle, n)
        cx, cy = self.center
        return np.stack(
            [cx + self.radius * np.cos(angles), cy + self.radius * np.sin(angles), np.zeros(n)], axis=1
        )


def _ground(x0: float, y0: float, x1: float, y1: float) -> Segment:
    return Segment((x0, y0, 0.0), (x1, y1, 0.0))


# Half-angle of the penalty arc that lies outside the penalty area.
_ARC_HALF = float(np.arccos((PENALTY_MARK_X - BIG_X) / CIRCLE_RADIUS))

MARKINGS: dict[str, Segment | Arc] = {
    "Big rect. left bottom": _ground(-HALF_L, BIG_Y, -BIG_X, BIG_Y),
    "Big rect. left main": _ground(-BIG_X, -BIG_Y, -BIG_X, BIG_Y),
    "Big rect. left top": _ground(-HALF_L, -BIG_Y, -BIG_X, -BIG_Y),
    "Big rect. right bottom": _ground(BIG_X, BIG_Y, HALF_L, BIG_Y),
    "Big rect. right main": _ground(BIG_X, -BIG_Y, BIG_X, BIG_Y),
    "Big rect. right top": _ground(BIG_X, -BIG_Y, HALF_L, -BIG_Y),
    "Circle central": Arc((0.0, 0.0), CIRCLE_RADIUS, 0.0, 2 * np.pi),
    "Circle left": Arc((-PENALTY_MARK_X, 0.0), CIRCLE_RADIUS, -_ARC_HALF, _ARC_HALF),
    "Circle right": Arc((PENALTY_MARK_X, 0.0), CIRCLE_RADIUS, np.pi - _ARC_HALF, np.pi + _ARC_HALF),
    "Goal left crossbar": Segment((-HALF_L, -POST_Y, -GOAL_HEIGHT), (-HALF_L, POST_Y, -GOAL_HEIGHT)),
    "Goal left post left ": Segment((-HALF_L, POST_Y, 0.0), (-HALF_L, POST_Y, -GOAL_HEIGHT)),
    "Goal left post right": Segment((-HALF_L, -POST_Y, 0.0), (-HALF_L, -POST_Y, -GOAL_HEIGHT)),
    "Goal right crossbar": Segment((HALF_L, -POST_Y, -GOAL_HEIGHT), (HALF_L, POST_Y, -GOAL_HEIGHT)),
    "Goal right post left": Segment((HALF_L, -POST_Y, 0.0), (HALF_L, -POST_Y, -GOAL_HEIGHT)),
    "Goal right post right": Segment((HALF_L, POST_Y, 0.0), (HALF_L, POST_Y, -GOAL_HEIGHT)),
    "Middle line": _ground(0.0, -HALF_W, 0.0, HALF_W),
    "Side line bottom": _ground(-HALF_L, HALF_W, HALF_L, HALF_W),
    "Side line left": _ground(-HALF_L, -HALF_W, -HALF_L, HALF_W),
    "Side line right": _ground(HALF_L, -HALF_W, HALF_L, HALF_W),
    "Side line top": _ground(-HALF_L, -HALF_W, HALF_L, -HALF_W),
    "Small rect. left bottom": _ground(-HALF_L, SMALL_Y, -SMALL_X, SMALL_Y),
    "Small rect. left main": _ground(-SMALL_X, -SMALL_Y, -SMALL_X, SMALL_Y),
    "Small rect. left top": _ground(-HALF_L, -SMALL_Y, -SMALL_X, -SMALL_Y),
    "Small rect. right bottom": _ground(SMALL_X, SMALL_Y, HALF_L, SMALL_Y),
    "Small rect. right main": _ground(SMALL_X, -SMALL_Y, SMALL_X, SMALL_Y),
    "Small rect. right top": _ground(SMALL_X, -SMALL_Y, HALF_L, -SMALL_Y),
}
"""The 26 annotation classes, spelled exactly as SoccerNet spells them (note the trailing
space in ``"Goal left post left "``)."""

CLASS_NAMES: tuple[str, ...] = tuple(MARKINGS)
CIRCLE_CLASSES = tuple(name for name, m in MARKINGS.items() if isinstance(m, Arc))
LINE_CLASSES = tuple(name for name, m in MARKINGS.items() if isinstance(m, Segment))


def spelling_key(name: str) -> str:
    """A class name with surrounding whitespace stripped and inner runs of it made one space."""
    return " ".join(str(name).split())


_BY_SPELLING = {spelling_key(name): name for name in CLASS_NAMES}


def canonical_class_name(name: str) -> str | None:
    """The :data:`CLASS_NAMES` spelling of an annotated class name, or None for an unknown class.

    The datasets differ in whitespace only: calibration-2023 writes ``"Goal left post left "``
    (trailing space), gamestate-2024 ``"Goal left post left"``; both mean one marking.
    """
    return _BY_SPELLING.get(spelling_key(name))


def sample_marking(name: str, step: float = 0.5) -> np.ndarray:
    """Points every ``step`` metres along one marking, shape (N, 3)."""
    return MARKINGS[name].sample(step)


def _signature_points(marking: Segment | Arc) -> np.ndarray:
    """Nine evenly spread points: enough to tell markings apart and to match mirror images."""
    return np.round(marking.sample(marking_length(marking) / 8), 6)


def marking_length(marking: Segment | Arc) -> float:
    if isinstance(marking, Segment):
        return float(np.linalg.norm(np.subtract(marking.end, marking.start)))
    return abs(marking.end_angle - marking.start_angle) * marking.radius


def _mirror_table(sx: float, sy: float) -> dict[str, str]:
    """Class renaming under the world map (x, y, z) -> (sx*x, sy*y, z), found from geometry."""
    signature = {name: {tuple(p) for p in _signature_points(m)} for name, m in MARKINGS.items()}
    table = {}
    for name, marking in MARKINGS.items():
        mirrored = {tuple(p) for p in np.round(_signature_points(marking) * [sx, sy, 1.0], 6)}
        (match,) = [other for other, pts in signature.items() if pts == mirrored]
        table[name] = match
    return table


FLIP_CLASSES = _mirror_table(-1.0, 1.0)
"""Class names after a horizontal image flip (world x -> -x): left <-> right only."""

ROTATE_CLASSES = _mirror_table(-1.0, -1.0)
"""Class names under SoccerNet's "mirrored labels" (pitch turned by 180 degrees):
left <-> right and top <-> bottom together."""
