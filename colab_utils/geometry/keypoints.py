"""Sportlight's 57 calibration keypoints and the 29 ground keypoints of the homography model.

Keypoints 0-29 are intersections of two annotated line classes; 30-56 are points of the
three circles (tangent points, 45-degree points, line crossings, marks). The world
coordinates are computed from the pitch dimensions, not typed in, so they agree with the
pitch model to the last digit.
"""

from __future__ import annotations

import numpy as np

from colab_utils.geometry import pitch as P

L, W = P.HALF_L, P.HALF_W

# (line class A, line class B) for keypoints 0-29: the keypoint is where the lines fitted
# through the two classes' annotated points cross.
INTERSECTIONS: tuple[tuple[str, str], ...] = (
    ("Goal left crossbar", "Goal left post left "),
    ("Goal left crossbar", "Goal left post right"),
    ("Side line left", "Goal left post left "),
    ("Side line left", "Goal left post right"),
    ("Small rect. left main", "Small rect. left bottom"),
    ("Small rect. left main", "Small rect. left top"),
    ("Side line left", "Small rect. left bottom"),
    ("Side line left", "Small rect. left top"),
    ("Big rect. left main", "Big rect. left bottom"),
    ("Big rect. left main", "Big rect. left top"),
    ("Side line left", "Big rect. left bottom"),
    ("Side line left", "Big rect. left top"),
    ("Side line left", "Side line bottom"),
    ("Side line left", "Side line top"),
    ("Middle line", "Side line bottom"),
    ("Middle line", "Side line top"),
    ("Big rect. right main", "Big rect. right bottom"),
    ("Big rect. right main", "Big rect. right top"),
    ("Side line right", "Big rect. right bottom"),
    ("Side line right", "Big rect. right top"),
    ("Small rect. right main", "Small rect. right bottom"),
    ("Small rect. right main", "Small rect. right top"),
    ("Side line right", "Small rect. right bottom"),
    ("Side line right", "Small rect. right top"),
    ("Goal right crossbar", "Goal right post left"),
    ("Goal right crossbar", "Goal right post right"),
    ("Side line right", "Goal right post left"),
    ("Side line right", "Goal right post right"),
    ("Side line right", "Side line bottom"),
    ("Side line right", "Side line top"),
)


def _crossing(a: str, b: str) -> np.ndarray:
    """Where two perpendicular, axis-aligned markings of the pitch model meet."""
    sa, sb = P.MARKINGS[a], P.MARKINGS[b]
    point = np.array(sa.start, dtype=float)
    (axis,) = np.flatnonzero(~np.isclose(sa.start, sa.end))  # the axis marking a runs along
    assert np.isclose(sb.start[axis], sb.end[axis]), f"{a!r} and {b!r} are not perpendicular"
    point[axis] = sb.start[axis]
    return point


def tangent_point(external: np.ndarray, center: np.ndarray, radius: float, side: float) -> np.ndarray:
    """Where a line through ``external`` touches the circle; ``side`` (+1/-1) picks one of the two.

    ``side`` = +1 rotates counter-clockwise (in x-y) from the centre->external direction.
    """
    d = external[:2] - center[:2]
    dist = np.linalg.norm(d)
    theta = np.arccos(radius / dist)
    phi = np.arctan2(d[1], d[0]) + side * theta
    return np.array([center[0] + radius * np.cos(phi), center[1] + radius * np.sin(phi), 0.0])


def _world_57() -> np.ndarray:
    pts = np.zeros((57, 3))
    for i, (a, b) in enumerate(INTERSECTIONS):
        pts[i] = _crossing(a, b)
    r = P.CIRCLE_RADIUS
    origin = np.zeros(3)
    # 30/31: tangents from the top halfway point (kp 15) touching at x > 0 / x < 0; 32/33 from kp 14.
    for idx, source in ((30, 15), (32, 14)):
        candidates = [tangent_point(pts[source], origin, r, s) for s in (1.0, -1.0)]
        candidates.sort(key=lambda p: -p[0])
        pts[idx], pts[idx + 1] = candidates
    a = r / np.sqrt(2)
    pts[34:38] = [(a, -a, 0), (-a, -a, 0), (a, a, 0), (-a, a, 0)]
    pts[38:43] = [(r, 0, 0), (-r, 0, 0), (0, -r, 0), (0, r, 0), (0, 0, 0)]
    half_chord = np.sqrt(r**2 - (P.PENALTY_MARK_X - P.BIG_X) ** 2)
    for side, first, top_corner, bottom_corner in ((-1.0, 43, 9, 8), (1.0, 50, 17, 16)):
        mark = np.array([side * P.PENALTY_MARK_X, 0.0, 0.0])
        pts[first] = (side * (P.PENALTY_MARK_X - r), 0, 0)  # arc apex, towards the centre
        pts[first + 1] = (side * P.BIG_X, half_chord, 0)
        pts[first + 2] = (side * P.BIG_X, -half_chord, 0)
        for offset, corner in ((3, top_corner), (4, bottom_corner)):
            candidates = [tangent_point(pts[corner], mark, r, s) for s in (1.0, -1.0)]
            # the touch point outside the penalty area, i.e. nearer the centre line
            pts[first + offset] = min(candidates, key=lambda p: abs(p[0]))
        pts[first + 5] = (side * P.PENALTY_MARK_X, 0, 0)
        pts[first + 6] = (side * P.BIG_X, 0, 0)
    return pts


WORLD_57: np.ndarray = _world_57()
"""World coordinates (metres, z down) of the 57 keypoints, shape (57, 3)."""
WORLD_57.setflags(write=False)

NAMES_57: tuple[str, ...] = tuple(f"{a.strip()} x {b.strip()}" for a, b in INTERSECTIONS) + (
    "centre circle tangent from top halfway, x>0",
    "centre circle tangent from top halfway, x<0",
    "centre circle tangent from bottom halfway, x>0",
    "centre circle tangent from bottom halfway, x<0",
    "centre circle 45deg (+,-)",
    "centre circle 45deg (-,-)",
    "centre circle 45deg (+,+)",
    "centre circle 45deg (-,+)",
    "centre circle x max",
    "centre circle x min",
    "centre circle x halfway line, top",
    "centre circle x halfway line, bottom",
    "centre mark",
    "left arc apex",
    "left arc x 16 m line, bottom",
    "left arc x 16 m line, top",
    "left arc tangent from top box corner",
    "left arc tangent from bottom box corner",
    "left penalty mark",
    "left 16 m line midpoint",
    "right arc apex",
    "right arc x 16 m line, bottom",
    "right arc x 16 m line, top",
    "right arc tangent from top box corner",
    "right arc tangent from bottom box corner",
    "right penalty mark",
    "right 16 m line midpoint",
)

GROUND_29: tuple[int, ...] = tuple(i for i in range(30) if i not in (0, 1, 24, 25)) + (42, 48, 55)
"""Indices (into the 57) of the homography model's ground-plane keypoints: the 26 ground
line intersections, the centre mark and the two penalty marks."""

ON_GROUND_57 = np.isclose(WORLD_57[:, 2], 0.0)


def _permutation(sx: float, sy: float) -> np.ndarray:
    mirrored = WORLD_57 * [sx, sy, 1.0]
    dist = np.linalg.norm(mirrored[:, None, :] - WORLD_57[None, :, :], axis=2)
    perm = dist.argmin(axis=1)
    assert np.allclose(dist[np.arange(57), perm], 0.0, atol=1e-6), "keypoint set is not symmetric"
    return perm


FLIP_57: np.ndarray = _permutation(-1.0, 1.0)
"""After a horizontal image flip, keypoint ``i`` of the flipped image is keypoint
``FLIP_57[i]`` of the original (the world mirrored in x)."""

ROTATE_57: np.ndarray = _permutation(-1.0, -1.0)
"""Keypoint renaming when the pitch is turned by 180 degrees (left/right and top/bottom swap)."""
