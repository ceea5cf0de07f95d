"""The evaluate step's picture: predicted keypoints and the pitch seen through the calibrated camera."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from colab_utils.geometry import pitch
from colab_utils.geometry.camera import Camera
from colab_utils.tasks.calibration_metrics import calibrate_subset


def project_pitch(camera: Camera, width: int, height: int) -> list[np.ndarray]:
    """Each marking's visible polyline pieces in pixels (points behind the camera dropped)."""
    pieces = []
    for name in pitch.CLASS_NAMES:
        uv, depth = camera.project(pitch.sample_marking(name, 0.25))
        inside = (depth > 0) & np.isfinite(uv).all(axis=1)
        inside &= (
            (uv[:, 0] > -width) & (uv[:, 0] < 2 * width) & (uv[:, 1] > -height) & (uv[:, 1] < 2 * height)
        )
        breaks = np.flatnonzero(np.diff(inside.astype(int)) != 0) + 1
        for run, kept in zip(np.split(uv, breaks), np.split(inside, breaks), strict=True):
            if len(run) > 1 and kept.all():
                pieces.append(run)
    return pieces


def calibration_picture(
    image: np.ndarray,
    xy: np.ndarray,
    confidence: np.ndarray,
    keypoints: Sequence[int],
    min_confidence: float,
):
    """A matplotlib figure of ``image`` (RGB) with the detected keypoints and the projected pitch."""
    import matplotlib.pyplot as plt

    height, width = image.shape[:2]
    camera = calibrate_subset(xy, confidence, keypoints, width, height, min_confidence)
    figure, ax = plt.subplots(figsize=(10, 10 * height / width))
    ax.imshow(image)
    if camera is not None:
        for piece in project_pitch(camera, width, height):
            ax.plot(piece[:, 0], piece[:, 1], color="#ffd400", linewidth=1.2, alpha=0.9)
    shown = confidence >= min_confidence
    ax.scatter(
        xy[shown, 0], xy[shown, 1], s=28, c=confidence[shown], cmap="cool", vmin=min_confidence, vmax=1
    )
    for k, (x, y) in zip(np.asarray(keypoints)[shown], xy[shown], strict=True):
        ax.annotate(str(k), (x, y), xytext=(3, -3), textcoords="offset points", color="white", fontsize=7)
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    status = "projected pitch from the calibrated camera" if camera else "no camera: too few keypoints"
    ax.set_title(f"{int(shown.sum())} keypoints detected; {status}")
    figure.tight_layout()
    return figure
