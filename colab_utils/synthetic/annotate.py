"""SoccerNet calibration annotations of a known camera, as a human annotator would click them.

Straight markings get the extremities of their visible part (sometimes a point or two in
between); circles get about nine unordered points spread along the visible arc; nothing
that is out of the frame or behind the camera is annotated. Points are normalised the
way SoccerNet stores them: pixel / (size - 1).
"""

from __future__ import annotations

import numpy as np

from colab_utils.geometry import pitch as P
from colab_utils.geometry.camera import Camera

SAMPLE_STEP_M = 0.05
MIN_VISIBLE_PX = 8.0
CIRCLE_POINTS = 9


def visible_pixels(camera: Camera, name: str, width: int, height: int) -> np.ndarray:
    """Pixels of one marking that lie inside the image and in front of the camera, in order."""
    uv, depth = camera.project(P.sample_marking(name, SAMPLE_STEP_M))
    with np.errstate(invalid="ignore"):
        keep = (depth > 0) & (uv[:, 0] >= 0) & (uv[:, 0] <= width - 1) & (uv[:, 1] >= 0)
        keep &= uv[:, 1] <= height - 1
    return uv[keep]


def annotate(
    camera: Camera,
    rng: np.random.Generator,
    width: int = 960,
    height: int = 540,
    noise_px: float = 0.5,
) -> dict[str, list[dict[str, float]]]:
    """The annotation dictionary of one frame seen by ``camera`` (SoccerNet's JSON content)."""
    annotation: dict[str, list[dict[str, float]]] = {}
    for name in P.CLASS_NAMES:
        pixels = visible_pixels(camera, name, width, height)
        if len(pixels) < 2 or _polyline_length(pixels) < MIN_VISIBLE_PX:
            continue
        if name in P.CIRCLE_CLASSES:
            picks = np.linspace(0, len(pixels) - 1, min(CIRCLE_POINTS, len(pixels))).round().astype(int)
            points = pixels[rng.permutation(picks)]
        else:
            extra = rng.choice([0, 0, 0, 1, 2])
            inner = np.sort(rng.uniform(0.2, 0.8, extra)) * (len(pixels) - 1)
            points = pixels[np.concatenate([[0], inner.round().astype(int), [len(pixels) - 1]])]
        points = points + rng.normal(0.0, noise_px, points.shape)
        points = np.clip(points, 0, [width - 1, height - 1])
        annotation[name] = [{"x": float(u / (width - 1)), "y": float(v / (height - 1))} for u, v in points]
    return annotation


def _polyline_length(points: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum())
