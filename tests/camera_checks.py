"""How far a predicted camera or its drawn overlay is from the truth, in pixels: shared by the
calibration models' training tests and the predictor tests."""

from __future__ import annotations

import cv2
import numpy as np

from colab_utils.calibration.picture import project_pitch
from colab_utils.geometry import pitch
from colab_utils.geometry.camera import Camera


def pitch_errors(camera: Camera, truth: Camera, width: int, height: int) -> np.ndarray:
    """Pixel distances between where ``camera`` and the true camera put the pitch markings' points
    (every 0.5 m) that the true camera shows inside the frame; inf for points ``camera`` puts behind it.

    The pitch looks the same turned by 180 degrees, and views from behind a goal are labelled from
    one end in training (``canonical_side``): the camera is compared with the true one and with its
    turned twin, and the better of the two counts, as in SoccerNet's metric.
    """
    points = np.concatenate([pitch.sample_marking(name, 0.5) for name in pitch.CLASS_NAMES])
    true_uv, depth = truth.project(points)
    inside = (true_uv >= 0).all(axis=1) & (true_uv[:, 0] <= width - 1) & (true_uv[:, 1] <= height - 1)
    seen = (depth > 0) & inside
    candidates = []
    for turn in ([1.0, 1.0, 1.0], [-1.0, -1.0, 1.0]):
        uv, predicted_depth = camera.project(points[seen] * turn)
        candidates.append(np.where(predicted_depth > 0, np.linalg.norm(uv - true_uv[seen], axis=1), np.inf))
    return min(candidates, key=np.median)


def overlay_offsets(overlay: np.ndarray, image: np.ndarray, truth: Camera) -> np.ndarray:
    """For each pixel the overlay drew (changed from the frame): its distance to the true pitch lines."""
    height, width = image.shape[:2]
    drawn = np.abs(overlay.astype(int) - image.astype(int)).max(axis=2) > 40
    lines = np.zeros((height, width), np.uint8)
    for piece in project_pitch(truth, width, height):
        cv2.polylines(lines, [np.round(piece).astype(np.int32)], False, 1, 1)
    return cv2.distanceTransform(1 - lines, cv2.DIST_L2, 5)[drawn]
