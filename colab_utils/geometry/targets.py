"""The 57 keypoint training targets of one SoccerNet annotation, derived the way Sportlight did.

Keypoints 0-29 are where the lines fitted through two annotated classes cross. The circle
points that have an image-side definition (tangents from a known keypoint, crossings of a
circle with a line) come from an ellipse fitted to the circle's annotated points. Everything
else is projected through a homography of the ground plane: RANSAC (5 px) on the ground
keypoints found so far, then refined so that the projected markings pass through every
annotated point (circles included). An ellipse-derived point that this homography misses by
more than the RANSAC threshold is taken as a failed fit (short or distant arcs) and replaced
by the projection.

A channel is trainable (``mask``) when the keypoint is known to be in view or known to be out
of it; it is masked out of the loss when nothing can be said, so an unsure channel is never
trained as a negative. A keypoint is known to be out of view when its derived position lies
outside the image (+- ``margin``), when the homography puts it behind the camera, or when a
marking it lies on is not annotated (annotators mark every marking they can see).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

import cv2
import numpy as np

from colab_utils.geometry import pitch as P
from colab_utils.geometry.calibrate import camera_from_homography
from colab_utils.geometry.keypoints import (
    FLIP_57,
    INTERSECTIONS,
    ON_GROUND_57,
    ROTATE_57,
    WORLD_57,
    tangent_point,
)

DEFAULT_MARGIN_PX = 6.0
"""How far outside the image a keypoint still counts as visible: one heatmap sigma (3 at
stride 2), so a target whose Gaussian still shows in the image is trained as present."""

RANSAC_THRESHOLD_PX = 5.0
MIN_CIRCLE_POINTS = 5
HOMOGRAPHY_WINDOW = 1.0
"""Keypoints farther than this many image sizes outside the image are left out of the
homography fit: they come from nearly parallel lines, possibly from near infinity."""
VALID_RANGE = (-1.0, 2.0)
"""Annotated points outside this normalised range are treated as corrupt and ignored."""

Annotation = Mapping[str, list[dict[str, float]]]


class Source(IntEnum):
    """How a keypoint's position was found."""

    NONE = 0
    LINES = 1
    ELLIPSE = 2
    HOMOGRAPHY = 3


@dataclass(frozen=True)
class KeypointTargets:
    """Pixel positions and training flags of the 57 keypoints of one image.

    ``xy`` is NaN where no position could be derived (a position outside the image is kept);
    ``visible``: a position exists inside the image +- margin (and, where a homography
    exists, in front of the camera: lines that meet behind it cross in the sky of the image);
    ``mask``: the channel may be trained (known visible or known absent);
    ``source``: a :class:`Source` code per keypoint;
    ``homography``: ground (x, y) metres -> pixels, scaled so in-front points have w > 0.
    """

    xy: np.ndarray
    visible: np.ndarray
    mask: np.ndarray
    source: np.ndarray
    homography: np.ndarray | None


def _on_marking(point: np.ndarray, marking: P.Segment | P.Arc, tol: float = 1e-6) -> bool:
    if isinstance(marking, P.Segment):
        a, b = np.asarray(marking.start), np.asarray(marking.end)
        t = np.clip(np.dot(point - a, b - a) / np.dot(b - a, b - a), 0.0, 1.0)
        return bool(np.linalg.norm(a + t * (b - a) - point) < tol)
    offset = point[:2] - np.asarray(marking.center)
    if abs(point[2]) > tol or abs(np.linalg.norm(offset) - marking.radius) > tol:
        return False
    sweep = marking.end_angle - marking.start_angle
    angle = (np.arctan2(offset[1], offset[0]) - marking.start_angle) % (2 * np.pi)
    return bool(angle <= sweep + tol or angle >= 2 * np.pi - tol)


ON_CLASSES: tuple[tuple[str, ...], ...] = tuple(
    tuple(name for name, m in P.MARKINGS.items() if _on_marking(point, m)) for point in WORLD_57
)
"""The annotation classes each keypoint lies on: if one of them is not annotated, the
keypoint is not in view. The centre mark lies on the halfway line, the penalty marks on none."""

_CENTRES = {name: np.array([*P.MARKINGS[name].center, 0.0]) for name in P.CIRCLE_CLASSES}


def _tangent_rules() -> tuple[tuple[str, int, int, float], ...]:
    """(circle, source keypoint, tangent keypoint, orientation sign) for 30-33, 46/47, 53/54.

    A camera above the pitch never mirrors it, so the triangle (source, this touch point,
    the other touch point) turns the same way in the image as on the pitch.
    """
    rules = []
    for circle, source, named in (
        ("Circle central", 15, (30, 31)),
        ("Circle central", 14, (32, 33)),
        ("Circle left", 9, (46,)),
        ("Circle left", 8, (47,)),
        ("Circle right", 17, (53,)),
        ("Circle right", 16, (54,)),
    ):
        q = WORLD_57[source]
        touches = [tangent_point(q, _CENTRES[circle], P.CIRCLE_RADIUS, s) for s in (1.0, -1.0)]
        for k in named:
            mine = min(touches, key=lambda t, k=k: np.linalg.norm(t - WORLD_57[k]))
            other = max(touches, key=lambda t, k=k: np.linalg.norm(t - WORLD_57[k]))
            assert np.allclose(mine, WORLD_57[k]), f"keypoint {k} is not a tangent from {source}"
            rules.append((circle, source, k, float(np.sign(_cross(mine - q, other - q)))))
    return tuple(rules)


# (circle, line, the two crossing keypoints, reference keypoints on the line): the crossing
# nearer a reference on the pitch is nearer it in the image too (a line keeps its order).
_CROSSINGS: tuple[tuple[str, str, tuple[int, int], tuple[int, ...]], ...] = (
    ("Circle central", "Middle line", (40, 41), (15, 14)),
    ("Circle left", "Big rect. left main", (44, 45), (8, 9)),
    ("Circle right", "Big rect. right main", (51, 52), (16, 17)),
)


def _cross(a: np.ndarray, b: np.ndarray) -> float:
    return float(a[0] * b[1] - a[1] * b[0])


_TANGENTS = _tangent_rules()
_GROUND_CLASSES = tuple(name for name in P.CLASS_NAMES if not name.startswith("Goal"))


def pixel_points(annotation: Annotation, width: int, height: int) -> dict[str, np.ndarray]:
    """Each known class's usable points in pixels, (N, 2); malformed or wild points dropped.

    Names are normalised (:func:`~colab_utils.geometry.pitch.canonical_class_name`), so the
    spellings with and without SoccerNet's trailing space are one class; unknown classes are skipped.
    """
    out = {}
    lo, hi = VALID_RANGE
    for raw_name, points in annotation.items():
        name = P.canonical_class_name(raw_name)
        if name is None:
            continue
        xy = []
        for p in points if isinstance(points, list | tuple) else ():
            try:
                xy.append((float(p["x"]), float(p["y"])))
            except (KeyError, TypeError, ValueError):
                continue
        arr = np.array(xy, dtype=float).reshape(-1, 2)
        with np.errstate(invalid="ignore"):
            keep = np.isfinite(arr).all(axis=1) & (arr >= lo).all(axis=1) & (arr <= hi).all(axis=1)
        out[name] = np.concatenate([out.get(name, np.empty((0, 2))), arr[keep] * [width - 1, height - 1]])
    return out


def fit_line(points: np.ndarray) -> np.ndarray | None:
    """Total-least-squares line (a, b, c), a^2 + b^2 = 1, or None for fewer than two distinct points."""
    if len(points) < 2:
        return None
    centre = points.mean(axis=0)
    _, s, vt = np.linalg.svd(points - centre)
    if s[0] < 1e-6:
        return None
    normal = vt[1]
    return np.array([normal[0], normal[1], -normal @ centre])


def fit_ellipse(points: np.ndarray) -> np.ndarray | None:
    """Conic matrix C (x^T C x = 0 in homogeneous pixels) of the ellipse through ``points``.

    Halir and Flusser's numerically stable direct least-squares fit, in float64 on centred,
    scaled points. Written here because cv2.fitEllipse works in float32, which is neither
    accurate enough for exact flip equivariance nor returns the conic needed for tangents.
    None when the points do not determine an ellipse.
    """
    if len(points) < MIN_CIRCLE_POINTS:
        return None
    centre = points.mean(axis=0)
    scale = np.sqrt(((points - centre) ** 2).sum(axis=1).mean())
    if not scale > 1e-6:
        return None
    x, y = ((points - centre) / scale).T
    quadratic = np.stack([x * x, x * y, y * y], axis=1)
    linear = np.stack([x, y, np.ones_like(x)], axis=1)
    s1, s2, s3 = quadratic.T @ quadratic, quadratic.T @ linear, linear.T @ linear
    if np.linalg.cond(s3) > 1e10:
        return None
    t = -np.linalg.solve(s3, s2.T)
    m = s1 + s2 @ t
    m = np.array([m[2] / 2, -m[1], m[0] / 2])
    _, vectors = np.linalg.eig(m)
    vectors = np.real(vectors)
    condition = 4 * vectors[0] * vectors[2] - vectors[1] ** 2
    if not np.any(condition > 0):
        return None
    a1 = vectors[:, int(np.argmax(condition))]
    a, b, c, d, e, f = np.concatenate([a1, t @ a1])
    conic = np.array([[a, b / 2, d / 2], [b / 2, c, e / 2], [d / 2, e / 2, f]])
    to_unit = np.array([[1 / scale, 0, -centre[0] / scale], [0, 1 / scale, -centre[1] / scale], [0, 0, 1]])
    conic = to_unit.T @ conic @ to_unit
    conic /= np.linalg.norm(conic)
    return conic if np.all(np.isfinite(conic)) else None


def line_conic_intersections(line: np.ndarray, conic: np.ndarray) -> np.ndarray | None:
    """The two points (2, 2) where a line meets a conic, or None when it misses it."""
    a, b, c = line / np.hypot(line[0], line[1])
    origin = np.array([-a * c, -b * c, 1.0])
    direction = np.array([-b, a, 0.0])
    qa, qb, qc = direction @ conic @ direction, 2 * origin @ conic @ direction, origin @ conic @ origin
    disc = qb * qb - 4 * qa * qc
    if not (disc > 0 and abs(qa) > 1e-15):
        return None
    roots = (-qb + np.array([-1.0, 1.0]) * np.sqrt(disc)) / (2 * qa)
    return origin[:2] + roots[:, None] * direction[:2]


def conic_tangent_points(source: np.ndarray, conic: np.ndarray) -> np.ndarray | None:
    """Where the two tangents from ``source`` touch the conic, or None (source inside it)."""
    polar = conic @ np.array([source[0], source[1], 1.0])
    if not np.hypot(polar[0], polar[1]) > 0:
        return None
    return line_conic_intersections(polar, conic)


def _in_window(xy: np.ndarray, width: int, height: int, margin: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (
            np.isfinite(xy).all(axis=-1)
            & (xy[..., 0] >= -margin)
            & (xy[..., 0] <= width - 1 + margin)
            & (xy[..., 1] >= -margin)
            & (xy[..., 1] <= height - 1 + margin)
        )


def _general_position(world: np.ndarray) -> bool:
    """Whether some four of the points have no three on one line (what a homography needs):
    false exactly when one line holds all the points but at most one."""
    if len(world) < 4:
        return False
    i, j = np.triu_indices(len(world), k=1)
    d = world[j] - world[i]
    rel = world[None, :, :] - world[i][:, None, :]
    off_line = np.abs(d[:, :1] * rel[..., 1] - d[:, 1:] * rel[..., 0]) > 1e-6 * np.hypot(d[:, :1], d[:, 1:])
    return bool(np.all(off_line.sum(axis=1) >= 2))


def _direct_linear_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """Least-squares homography src -> dst (Hartley-normalised DLT).

    Refits OpenCV's RANSAC inliers because its own refinement is not exactly mirror
    symmetric, and flip augmentation must give the same targets either way round.
    """

    def normaliser(points: np.ndarray) -> np.ndarray:
        centre = points.mean(axis=0)
        scale = np.sqrt(2) / max(np.linalg.norm(points - centre, axis=1).mean(), 1e-12)
        return np.array([[scale, 0, -scale * centre[0]], [0, scale, -scale * centre[1]], [0, 0, 1]])

    ts, td = normaliser(src), normaliser(dst)
    s = (np.column_stack([src, np.ones(len(src))]) @ ts.T)[:, :2]
    d = (np.column_stack([dst, np.ones(len(dst))]) @ td.T)[:, :2]
    rows = []
    for (x, y), (u, v) in zip(s, d, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    _, _, vt = np.linalg.svd(np.array(rows))
    h = np.linalg.inv(td) @ vt[-1].reshape(3, 3) @ ts
    return h / np.linalg.norm(h) if np.all(np.isfinite(h)) else None


def _fit_homography(
    xy: np.ndarray, known: np.ndarray, points: dict[str, np.ndarray], width: int, height: int
) -> np.ndarray | None:
    """Homography of the ground plane: RANSAC on the known ground keypoints, then refined on
    every annotated ground point, oriented so that points in front of the camera get w > 0."""
    reach = HOMOGRAPHY_WINDOW * max(width, height)
    use = known & ON_GROUND_57 & _in_window(xy, width, height, reach)
    if not _general_position(WORLD_57[use, :2]):
        return None
    # RANSAC samples by position in the list: order it the same way in an image, its mirror
    # image and its 180-degree relabelling, none of which changes |x|, |y| or the image row.
    world = np.abs(np.round(WORLD_57[use], 6))
    order = np.lexsort((xy[use, 1], world[:, 1], world[:, 0]))
    src, dst = WORLD_57[use, :2][order], xy[use][order]
    try:
        h, inliers = cv2.findHomography(src, dst, cv2.RANSAC, RANSAC_THRESHOLD_PX)
    except cv2.error:
        return None
    if h is None or not _general_position(src[inliers.ravel() > 0]):
        return None
    h = _direct_linear_transform(src[inliers.ravel() > 0], dst[inliers.ravel() > 0])
    if h is None:
        return None
    seen = {name: points[name] for name in _GROUND_CLASSES if name in points and len(points[name])}
    pixels = np.concatenate(list(seen.values())) if seen else dst
    h = _refine_on_markings(h, seen)
    w = _depth_sign(h, pixels)
    return None if w is None else h * w


def _depth_sign(h: np.ndarray, pixels: np.ndarray) -> float | None:
    """+1 or -1: the sign that makes w > 0 for the (in-front) annotated pixels."""
    try:
        w = (np.linalg.inv(h) @ np.column_stack([pixels, np.ones(len(pixels))]).T)[2]
    except np.linalg.LinAlgError:
        return None
    return 1.0 if np.median(w) > 0 else -1.0


def _world_curve(name: str) -> np.ndarray:
    """The marking as a homogeneous world line (3,) or circle conic (3, 3) of the ground plane."""
    m = P.MARKINGS[name]
    if isinstance(m, P.Segment):
        return np.cross([*m.start[:2], 1.0], [*m.end[:2], 1.0])
    (cx, cy), r = m.center, m.radius
    return np.array([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [-cx, -cy, cx * cx + cy * cy - r * r]])


_WORLD_CURVES = {name: _world_curve(name) for name in _GROUND_CLASSES}


def _marking_distances(
    hs: np.ndarray, lines: tuple[np.ndarray, np.ndarray], circles: list[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Signed pixel distances (B, N) of annotated points to their markings projected by each of
    the homographies ``hs`` (B, 3, 3); Sampson distances for circles.

    ``lines``: homogeneous pixels (N, 3) and their world lines (N, 3); ``circles``: per circle,
    homogeneous pixels (M, 3) and the world conic (3, 3).
    """
    inv = np.linalg.inv(hs)
    pixels, world = lines
    image_lines = np.einsum("nj,bjk->bnk", world, inv)
    norm = np.hypot(image_lines[..., 0], image_lines[..., 1])
    out = [np.einsum("nk,bnk->bn", pixels, image_lines) / norm]
    for p, curve in circles:
        conics = np.transpose(inv, (0, 2, 1)) @ curve @ inv
        grad = np.einsum("nj,bjk->bnk", p, conics)
        out.append(np.einsum("bnk,nk->bn", grad, p) / (2 * np.hypot(grad[..., 0], grad[..., 1])))
    return np.concatenate(out, axis=1)


def _refine_on_markings(h: np.ndarray, seen: dict[str, np.ndarray], iterations: int = 30) -> np.ndarray:
    """Refit the homography so the markings pass through all their annotated points.

    The keypoints alone leave a homography loose away from them (a penalty box seen with
    the centre circle), while every annotated point of every ground marking, circles
    included, says where that marking runs. Levenberg-Marquardt on the point-to-marking
    pixel distances, H = H0 (I + D) with eight free entries of D; kept only if it helps.
    """
    if sum(len(p) for p in seen.values()) < 8:
        return h
    homogeneous = {name: np.column_stack([p, np.ones(len(p))]) for name, p in seen.items()}
    straight = [name for name in seen if _WORLD_CURVES[name].ndim == 1]
    lines = (
        np.concatenate([homogeneous[n] for n in straight]).reshape(-1, 3),
        np.concatenate([np.tile(_WORLD_CURVES[n], (len(seen[n]), 1)) for n in straight]).reshape(-1, 3),
    )
    circles = [(homogeneous[n], _WORLD_CURVES[n]) for n in seen if n not in straight]

    metres = np.diag([P.HALF_L, P.HALF_L, 1.0])  # D acts on pitch coordinates scaled to about 1

    def homographies(deltas: np.ndarray) -> np.ndarray:
        free = np.concatenate([deltas, np.zeros((len(deltas), 1))], axis=1).reshape(-1, 3, 3)
        return h @ metres @ (np.eye(3) + free) @ np.linalg.inv(metres)

    def residuals(delta: np.ndarray) -> np.ndarray:
        return _marking_distances(homographies(delta[None]), lines, circles)[0]

    def step(delta: np.ndarray, damping: float) -> np.ndarray:
        probe = 1e-4
        shifted = _marking_distances(
            homographies(delta + probe * np.vstack([np.eye(8), -np.eye(8)])), lines, circles
        )
        jacobian = ((shifted[:8] - shifted[8:]) / (2 * probe)).T
        normal = jacobian.T @ jacobian
        return np.linalg.solve(normal + damping * np.diag(np.diag(normal)), -(jacobian.T @ residuals(delta)))

    def cost(delta: np.ndarray) -> float:
        r = residuals(delta)
        return float(r @ r)

    delta, damping = np.zeros(8), 1e-3
    start = best = cost(delta)
    try:
        for _ in range(iterations):
            trial = delta + step(delta, damping)
            trial_cost = cost(trial)
            if not (np.isfinite(trial_cost) and trial_cost < best):
                damping *= 10
                if damping > 1e6:
                    break
                continue
            converged = np.abs(trial - delta).max() < 1e-12
            delta, best, damping = trial, trial_cost, damping / 10
            if converged:
                break
        # Two plain Gauss-Newton steps to the stationary point: near it the comparisons above
        # are rounding noise, and stopping on them would leave a mirrored image's fit elsewhere.
        for _ in range(2):
            trial = delta + step(delta, 0.0)
            if cost(trial) <= best * (1 + 1e-9):
                delta = trial
    except np.linalg.LinAlgError:
        return h
    return homographies(delta[None])[0] if best < start else h


def keypoints_from_annotation(
    annotation: Annotation,
    width: int,
    height: int,
    margin: float = DEFAULT_MARGIN_PX,
    side_convention: bool = False,
) -> KeypointTargets:
    """The 57 keypoint targets of one image from its SoccerNet annotation (normalised points).

    ``side_convention``: also name the points that only a labelling convention can name (40/41
    from the centre circle and halfway line alone, see :func:`_halfway_crossings_by_convention`);
    for annotations that went through :func:`canonical_side`. Off, the targets follow the
    annotation's labels exactly, turned by 180 degrees with them.
    """
    points = pixel_points(annotation, width, height)
    lines = {name: fit_line(points[name]) for name in P.LINE_CLASSES if name in points}
    conics = {name: fit_ellipse(points[name]) for name in P.CIRCLE_CLASSES if name in points}
    absent = np.array([any(name not in points for name in on) for on in ON_CLASSES])
    xy = np.full((57, 2), np.nan)
    source = np.full(57, Source.NONE, dtype=np.uint8)

    for i, (a, b) in enumerate(INTERSECTIONS):
        la, lb = lines.get(a), lines.get(b)
        if absent[i] or la is None or lb is None:
            continue
        p = np.cross(la, lb)
        if abs(p[2]) < 1e-12:
            absent[i] = True  # parallel in the image: they meet at infinity
        else:
            xy[i], source[i] = p[:2] / p[2], Source.LINES

    for k, p in _circle_points(xy, lines, conics, side_convention).items():
        if not absent[k]:
            xy[k], source[k] = p, Source.ELLIPSE

    homography = _fit_homography(xy, source != Source.NONE, points, width, height)
    if homography is not None:
        projected = (homography @ np.column_stack([WORLD_57[:, :2], np.ones(57)]).T).T
        in_front = projected[:, 2] > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            projected = projected[:, :2] / projected[:, 2:]
            far = np.linalg.norm(projected - xy, axis=1) > RANSAC_THRESHOLD_PX
        absent |= (source == Source.LINES) & ON_GROUND_57 & ~in_front  # lines meeting behind the camera
        outlier = (source == Source.ELLIPSE) & (far | ~in_front)
        xy[outlier], source[outlier] = np.nan, Source.NONE
        todo = ~absent & (source == Source.NONE) & ON_GROUND_57
        xy[todo & in_front], source[todo & in_front] = projected[todo & in_front], Source.HOMOGRAPHY
        absent |= todo & ~in_front

    visible = ~absent & _in_window(xy, width, height, margin)
    mask = visible | absent | (source != Source.NONE)
    return KeypointTargets(xy=xy, visible=visible, mask=mask, source=source, homography=homography)


def _circle_points(
    xy: np.ndarray,
    lines: dict[str, np.ndarray | None],
    conics: dict[str, np.ndarray | None],
    side_convention: bool,
) -> dict[int, np.ndarray]:
    """Tangent points and line crossings of the fitted circle ellipses, named by image geometry."""
    found = {}
    for circle, source, k, sign in _TANGENTS:
        conic = conics.get(circle)
        if conic is None or not np.isfinite(xy[source]).all():
            continue
        touches = conic_tangent_points(xy[source], conic)
        if touches is not None:
            turn = _cross(touches[0] - xy[source], touches[1] - xy[source])
            found[k] = touches[0] if np.sign(turn) == sign else touches[1]

    for circle, line_name, (ka, kb), references in _CROSSINGS:
        conic, line = conics.get(circle), lines.get(line_name)
        hits = None if conic is None or line is None else line_conic_intersections(line, conic)
        ref = next((r for r in references if np.isfinite(xy[r]).all()), None)
        if hits is None:
            continue
        if ref is None:
            if side_convention and circle == "Circle central":
                found[ka], found[kb] = _halfway_crossings_by_convention(hits)
            continue
        a_nearer = np.linalg.norm(WORLD_57[ka] - WORLD_57[ref]) < np.linalg.norm(WORLD_57[kb] - WORLD_57[ref])
        first_nearer = np.linalg.norm(hits[0] - xy[ref]) < np.linalg.norm(hits[1] - xy[ref])
        found[ka], found[kb] = (hits[0], hits[1]) if a_nearer == first_nearer else (hits[1], hits[0])
    return found


def _halfway_crossings_by_convention(hits: np.ndarray) -> np.ndarray:
    """Keypoints 40 (0, -9.15) and 41 (0, +9.15) when no touch-line keypoint tells them apart.

    The centre circle and the halfway line look the same turned by 180 degrees, so only a
    convention can name the crossings: SoccerNet's, as :func:`canonical_side` applies it. The
    camera stands beside the bottom touch line (y > 0), so 41 is the crossing lower in the
    image; where the line runs more across the image than down it, the camera is behind the
    left goal and 41 is the crossing further right.
    """
    du, dv = np.abs(hits[1] - hits[0])
    return hits[np.argsort(hits[:, 1 if dv >= du else 0])]


def flip_annotation(annotation: Annotation) -> dict[str, list[dict[str, float]]]:
    """The annotation of the horizontally flipped image: x mirrored, left and right classes swapped."""
    out = {}
    for name, points in annotation.items():
        canonical = P.canonical_class_name(name) or name
        out[P.FLIP_CLASSES.get(canonical, name)] = [{"x": 1.0 - p["x"], "y": p["y"]} for p in points]
    return out


def flip_targets(targets: KeypointTargets, width: int) -> KeypointTargets:
    """The targets of the horizontally flipped image: pixel x mirrored, keypoints renamed."""
    xy = targets.xy[FLIP_57].copy()
    xy[:, 0] = (width - 1) - xy[:, 0]
    homography = None
    if targets.homography is not None:
        mirror_image = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        homography = mirror_image @ targets.homography @ np.diag([-1.0, 1.0, 1.0])
    return KeypointTargets(
        xy=xy,
        visible=targets.visible[FLIP_57],
        mask=targets.mask[FLIP_57],
        source=targets.source[FLIP_57],
        homography=homography,
    )


def rotate_annotation(annotation: Annotation) -> dict[str, list[dict[str, float]]]:
    """The same image labelled as seen from the other end: SoccerNet's "mirrored labels"."""
    out = {}
    for name, points in annotation.items():
        canonical = P.canonical_class_name(name) or name
        out[P.ROTATE_CLASSES.get(canonical, name)] = [dict(p) for p in points]
    return out


def canonical_side(annotation: Annotation, width: int = 960, height: int = 540) -> dict[str, list[dict]]:
    """Relabel a view whose ends cannot be told apart so that it is always labelled one way.

    The pitch looks the same turned by 180 degrees, so every image can be labelled from
    either end (SoccerNet's "mirrored labels"). SoccerNet fixes the choice by calling
    "bottom" the touch line the main cameras stand behind, but a camera behind a goal has no
    such anchor and annotators labelled it either way; a reverse-angle camera on the far
    touch line is, in one image, indistinguishable from a main camera. Rule: fit the ground
    homography of the annotation and recover where the camera stands; if it stands nearer a
    goal line than a touch line it must be behind the LEFT goal (x < 0), otherwise beside
    the BOTTOM touch line (y > 0); when it is not, the classes are renamed with
    ``ROTATE_CLASSES``. An image and its renamed twin thus get identical labels. Views whose
    homography or camera cannot be recovered are returned unchanged.
    """
    homography = keypoints_from_annotation(annotation, width, height).homography
    camera = None if homography is None else camera_from_homography(homography, width, height)
    if camera is None:
        return dict(annotation)
    x, y, _ = camera.position
    behind_goal = abs(x) - P.HALF_L > abs(y) - P.HALF_W
    wrong_end = x > 0 if behind_goal else y < 0
    return rotate_annotation(annotation) if wrong_end else dict(annotation)


def rotate_targets(targets: KeypointTargets) -> KeypointTargets:
    """Keypoint renaming of :func:`rotate_annotation` (pixels unchanged)."""
    homography = None if targets.homography is None else targets.homography @ np.diag([-1.0, -1.0, 1.0])
    return KeypointTargets(
        xy=targets.xy[ROTATE_57].copy(),
        visible=targets.visible[ROTATE_57],
        mask=targets.mask[ROTATE_57],
        source=targets.source[ROTATE_57],
        homography=homography,
    )
