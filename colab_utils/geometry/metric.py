"""SoccerNet's camera calibration metric (sn-calibration), re-implemented with numpy.

The official evaluator walks every sampled pitch point and every polyline segment in
Python and needs over an hour for the 3,212 validation frames; this version reproduces
its definition with array operations and needs seconds. The rules it follows:

* The pitch polylines are sampled like SoccerNet does (straight markings every 0.9 m,
  goal posts from the crossbar down, circles every 0.2 m, the centre circle left open
  between its last sample and its first) and projected with the predicted camera as
  given, distortion included. Nothing is rescaled: the camera must be expressed in
  960x540 pixels. Samples less than 1 mm in front of the camera are dropped as if they
  did not exist; the rest are kept inside ``0 <= x < 960, 0 <= y < 540``.
* Where a polyline enters or leaves the image, the evaluator inserts the crossing of the
  line through the two samples with the border line (x = 0, x = 959, y = 0, y = 539)
  nearest to the later sample. Near an image corner that can be the wrong border, which
  cuts the polyline short: the true camera can then lose a class. We reproduce this, as
  we do keeping a polyline that leaves and re-enters the image as one polyline.
* Per class: projected but not annotated -> FP; annotated but not projected -> FN
  (annotated classes the pitch model lacks, such as "Line unknown", are therefore always
  FN); both -> TP when every annotated point is strictly closer than ``t`` pixels to the
  projected polyline, else FP.
* Frame accuracy = TP / (TP + FP + FN), 0 when that sum is 0. It is computed for the
  annotation and for its mirrored labels (pitch turned by 180 degrees), separately for
  each threshold, and the mirrored one is kept unless the original is strictly better.
* Acc@t is the mean frame accuracy over frames with a prediction; completeness is the
  fraction of frames with a prediction; the final score is completeness x Acc@5.

The one deliberate difference: the reference rounds projected pixels to float32, we
keep float64 (a few thousandths of a pixel).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from colab_utils.geometry import pitch as P
from colab_utils.geometry.camera import Camera

EVAL_WIDTH, EVAL_HEIGHT = 960, 540
THRESHOLDS = (5, 10, 20)
FINAL_THRESHOLD = 5
LINE_STEP_M = 0.9  # the evaluator's "sampling_factor"
CIRCLE_STEP_M = 0.2  # fixed in SoccerNet, whatever the sampling factor
MIN_DEPTH_M = 1e-3

Annotation = Mapping[str, Sequence[Mapping[str, float]]]
CameraLike = Camera | Mapping


def _sample_segment(marking: P.Segment) -> np.ndarray:
    """Start, then steps of 0.9 m, then the end; goal posts are walked from the crossbar down."""
    start, end = np.asarray(marking.start, float), np.asarray(marking.end, float)
    if start[2] == 0.0 and end[2] != 0.0:
        start, end = end, start
    length = np.linalg.norm(end - start)
    steps = np.arange(1, int(length / LINE_STEP_M - 1) + 1) * LINE_STEP_M
    inner = start + steps[:, None] * (end - start) / length
    return np.vstack([start, inner, end])


def _sample_arc(marking: P.Arc) -> np.ndarray:
    """Steps of 0.2 m along the arc; a full circle gets no closing point, a partial arc gets its end."""
    sweep = marking.end_angle - marking.start_angle
    count = int(marking.radius * sweep / CIRCLE_STEP_M)
    full_circle = np.isclose(sweep, 2 * np.pi)
    steps = np.arange(count) if full_circle else np.arange(count + 1)
    angles = marking.start_angle + steps * CIRCLE_STEP_M / marking.radius
    if not full_circle:
        angles = np.append(angles, marking.end_angle)
    cx, cy = marking.center
    r = marking.radius
    return np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles), np.zeros_like(angles)], axis=1)


def _evaluation_samples() -> tuple[np.ndarray, np.ndarray]:
    pieces, labels = [], []
    for index, name in enumerate(P.CLASS_NAMES):
        marking = P.MARKINGS[name]
        points = _sample_segment(marking) if isinstance(marking, P.Segment) else _sample_arc(marking)
        pieces.append(points)
        labels.append(np.full(len(points), index))
    return np.vstack(pieces), np.concatenate(labels)


SAMPLES, SAMPLE_CLASS = _evaluation_samples()
"""World points (M, 3) of every class polyline, in order, and the class index of each."""

_CLASS_INDEX = {name: i for i, name in enumerate(P.CLASS_NAMES)}
_UNKNOWN = len(P.CLASS_NAMES)  # annotated classes the pitch model lacks ("Line unknown"): never projected
_MIRRORED_INDEX = np.array([_CLASS_INDEX[P.ROTATE_CLASSES[name]] for name in P.CLASS_NAMES] + [_UNKNOWN])


def as_camera(camera: CameraLike) -> Camera:
    """Accept our :class:`Camera` or SoccerNet's camera JSON dictionary."""
    return camera if isinstance(camera, Camera) else Camera.from_json(dict(camera))


def _border_crossings(
    current: np.ndarray, previous: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, np.ndarray]:
    """Where the lines through (previous, current) meet the image border, nearest to ``current``.

    Returns the points (K, 2) and whether any in-image crossing exists (K,).
    """
    ones = np.ones((len(current), 1))
    lines = np.cross(np.hstack([current, ones]), np.hstack([previous, ones]))
    sides = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 1.0 - width], [0.0, 1.0, 0.0], [0.0, 1.0, 1.0 - height]])
    with np.errstate(divide="ignore", invalid="ignore"):
        hits = np.cross(lines[:, None, :], sides[None, :, :])
        hits = hits[..., :2] / hits[..., 2:]
        inside = (hits[..., 0] >= 0) & (hits[..., 0] < width) & (hits[..., 1] >= 0) & (hits[..., 1] < height)
    distance = np.where(inside, np.linalg.norm(hits - current[:, None, :], axis=2), np.inf)
    best = distance.argmin(axis=1)
    return hits[np.arange(len(current)), best], inside.any(axis=1)


def _clipped_polylines(camera: Camera, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """All projected, clipped polyline vertices (V, 2) in order, and their class index (V,)."""
    uv, depth = camera.project(SAMPLES)
    keep = depth > MIN_DEPTH_M
    uv, label = uv[keep], SAMPLE_CLASS[keep]
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < width) & (uv[:, 1] >= 0) & (uv[:, 1] < height)
    has_previous = np.r_[False, label[1:] == label[:-1]]
    crossing = has_previous & (inside != np.r_[False, inside[:-1]])
    where = np.flatnonzero(crossing)
    border, found = _border_crossings(uv[where], uv[where - 1], width, height)
    # Each sample contributes up to two vertices: [border crossing when entering, itself when
    # inside] or [-, border crossing when leaving].
    vertices = np.zeros((len(uv), 2, 2))
    emitted = np.zeros((len(uv), 2), dtype=bool)
    vertices[:, 1] = uv
    emitted[:, 1] = inside
    entering, leaving = inside[where] & found, ~inside[where] & found
    vertices[where[entering], 0] = border[entering]
    emitted[where[entering], 0] = True
    vertices[where[leaving], 1] = border[leaving]
    emitted[where[leaving], 1] = True
    return vertices[emitted], np.repeat(label, 2).reshape(-1, 2)[emitted]


def project_polylines(
    camera: CameraLike, width: int = EVAL_WIDTH, height: int = EVAL_HEIGHT
) -> dict[str, np.ndarray]:
    """The evaluator's view of a camera: each visible class's clipped polyline in pixels."""
    vertices, label = _clipped_polylines(as_camera(camera), width, height)
    return {P.CLASS_NAMES[c]: vertices[label == c] for c in np.unique(label)}


def annotation_pixels(
    annotation: Annotation, width: int = EVAL_WIDTH, height: int = EVAL_HEIGHT
) -> dict[str, np.ndarray]:
    """SoccerNet's normalised annotation points in pixels (x * (width - 1)); empty classes dropped."""
    scale = np.array([width - 1, height - 1], dtype=float)
    return {
        name: np.array([[p["x"], p["y"]] for p in points], dtype=float) * scale
        for name, points in annotation.items()
        if len(points)
    }


def _point_segment_distances(points: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Euclidean distance from each point to the matching segment (a zero-length one is a point)."""
    direction = ends - starts
    length2 = (direction**2).sum(axis=1)
    offset = points - starts
    with np.errstate(divide="ignore", invalid="ignore"):
        along = np.where(length2 > 0, (offset * direction).sum(axis=1) / length2, 0.0)
    along = np.clip(along, 0.0, 1.0)
    return np.linalg.norm(offset - along[:, None] * direction, axis=1)


def _segments_by_class(vertices: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segment starts, ends and classes, grouped by class; a one-vertex polyline is one point-segment."""
    same = label[1:] == label[:-1]
    _, first, counts = np.unique(label, return_index=True, return_counts=True)
    lone = first[counts == 1]
    starts = np.vstack([vertices[:-1][same], vertices[lone]])
    ends = np.vstack([vertices[1:][same], vertices[lone]])
    segment_class = np.concatenate([label[1:][same], label[lone]])
    order = np.argsort(segment_class, kind="stable")
    return starts[order], ends[order], segment_class[order]


def _distances_to_classes(
    points: np.ndarray, target: np.ndarray, vertices: np.ndarray, label: np.ndarray
) -> np.ndarray:
    """Distance from each point to the projected polyline of class ``target[i]`` (inf if none)."""
    starts, ends, segment_class = _segments_by_class(vertices, label)
    count = np.bincount(segment_class, minlength=_UNKNOWN + 1)
    first = np.searchsorted(segment_class, np.arange(_UNKNOWN + 1))
    per_point = count[target]
    begin = np.cumsum(per_point) - per_point
    pair_point = np.repeat(np.arange(len(points)), per_point)
    pair_segment = np.repeat(first[target] - begin, per_point) + np.arange(per_point.sum())
    pair_distance = _point_segment_distances(points[pair_point], starts[pair_segment], ends[pair_segment])
    distance = np.full(len(points), np.inf)
    matched = per_point > 0
    if matched.any():
        distance[matched] = np.minimum.reduceat(pair_distance, begin[matched])
    return distance


def _accuracy(counts: tuple[int, int, int]) -> float:
    total = sum(counts)
    return counts[0] / total if total else 0.0


def frame_scores(
    camera: CameraLike,
    annotation: Annotation,
    thresholds: Iterable[float] = THRESHOLDS,
    width: int = EVAL_WIDTH,
    height: int = EVAL_HEIGHT,
) -> dict[float, tuple[int, int, int]]:
    """(TP, FP, FN) of one frame per threshold, for the better of the labels and their mirror."""
    vertices, label = _clipped_polylines(as_camera(camera), width, height)
    projected = np.zeros(_UNKNOWN + 1, dtype=bool)
    projected[label] = True
    annotated = annotation_pixels(annotation, width, height)
    own = np.array([_CLASS_INDEX.get(name, _UNKNOWN) for name in annotated], dtype=int)
    sizes = np.array([len(points) for points in annotated.values()], dtype=int)
    points = np.vstack(list(annotated.values())) if annotated else np.zeros((0, 2))

    labellings = []
    for classes in (own, _MIRRORED_INDEX[own]):
        distance = _distances_to_classes(points, np.repeat(classes, sizes), vertices, label)
        worst = np.maximum.reduceat(distance, np.cumsum(sizes) - sizes) if len(sizes) else distance
        common = projected[classes]
        labellings.append((worst[common], int(projected.sum() - common.sum()), int((~common).sum())))

    scores = {}
    for t in thresholds:
        counts = []
        for worst, only_projected, only_annotated in labellings:
            tp = int((worst < t).sum())
            counts.append((tp, only_projected + len(worst) - tp, only_annotated))
        original, mirrored = counts
        # the official evaluator keeps the mirrored labels unless the original is strictly better
        scores[t] = original if _accuracy(original) > _accuracy(mirrored) else mirrored
    return scores


class CalibrationMetric:
    """Accumulates frames; ``compute`` gives Acc@t, completeness and the final score.

    A frame without a prediction (``None``) lowers completeness only, as in the challenge.
    """

    def __init__(
        self, thresholds: Iterable[float] = THRESHOLDS, width: int = EVAL_WIDTH, height: int = EVAL_HEIGHT
    ) -> None:
        self.thresholds = tuple(thresholds)
        self.width, self.height = width, height
        self.accuracies: dict[float, list[float]] = {t: [] for t in self.thresholds}
        self.frames = 0

    def update(self, camera: CameraLike | None, annotation: Annotation) -> None:
        self.frames += 1
        if camera is None:
            return
        for t, counts in frame_scores(camera, annotation, self.thresholds, self.width, self.height).items():
            self.accuracies[t].append(_accuracy(counts))

    def compute(self) -> dict[str, float]:
        """``acc@t`` for every threshold, ``completeness`` and, when 5 px is among them, ``final_score``.

        Acc@t is 0 (not NaN, as the official code would give) when no frame has a prediction.
        """
        if self.frames == 0:
            raise ValueError("no frames were given to the metric")
        predicted = len(self.accuracies[self.thresholds[0]]) if self.thresholds else 0
        results = {f"acc@{t:g}": float(np.mean(a)) if a else 0.0 for t, a in self.accuracies.items()}
        results["completeness"] = predicted / self.frames
        if FINAL_THRESHOLD in self.thresholds:
            results["final_score"] = results["completeness"] * results[f"acc@{FINAL_THRESHOLD}"]
        return results


def evaluate_folder(
    prediction_dir: str | Path,
    annotation_dir: str | Path,
    thresholds: Iterable[float] = THRESHOLDS,
    width: int = EVAL_WIDTH,
    height: int = EVAL_HEIGHT,
) -> dict[str, float]:
    """Score SoccerNet-layout folders: ``camera_<stem>.json`` predictions vs ``<stem>.json`` annotations.

    Annotation files whose name contains "info" are not frames; a missing prediction
    counts against completeness.
    """
    prediction_dir, annotation_dir = Path(prediction_dir), Path(annotation_dir)
    metric = CalibrationMetric(thresholds, width, height)
    for path in sorted(annotation_dir.glob("*.json")):
        if "info" in path.name:
            continue
        prediction = prediction_dir / f"camera_{path.name}"
        camera = json.loads(prediction.read_text()) if prediction.is_file() else None
        metric.update(camera, json.loads(path.read_text()))
    return metric.compute()


def pck(
    pred_xy: np.ndarray,
    true_xy: np.ndarray,
    visible: np.ndarray,
    thresholds_px: Iterable[float] = THRESHOLDS,
) -> dict[float, float]:
    """Fraction of visible true keypoints whose prediction is strictly closer than ``t`` pixels.

    Arrays are (..., K, 2) with ``visible`` (..., K); a missing prediction (NaN) counts as a
    miss, so a model cannot raise its PCK by abstaining. NaN when nothing is visible.
    """
    visible = np.asarray(visible, dtype=bool)
    error = np.linalg.norm(np.asarray(pred_xy, float) - np.asarray(true_xy, float), axis=-1)[visible]
    if error.size == 0:
        return {t: float("nan") for t in thresholds_px}
    with np.errstate(invalid="ignore"):
        return {t: float(np.mean(error < t)) for t in thresholds_px}
