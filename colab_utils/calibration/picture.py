"""The evaluate step's picture: predicted keypoints and the pitch seen through the predicted geometry
(a calibrated camera, or a ground homography); and the same drawn onto a frame at its own size,
the overlay predict() saves."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from colab_utils.calibration.metrics import calibrate_subset
from colab_utils.geometry import pitch
from colab_utils.geometry.camera import Camera

GROUND_MARKINGS = tuple(name for name in pitch.CLASS_NAMES if not name.startswith("Goal"))
LINE_RGB = (255, 212, 0)  # the projected pitch, as in the figures
POINT_RGB = (0, 255, 255)


def visible_pieces(uv: np.ndarray, in_front: np.ndarray, width: int, height: int) -> list[np.ndarray]:
    """The runs of a marking's projected samples that are in front and near the image."""
    inside = in_front & np.isfinite(uv).all(axis=1)
    inside &= (uv[:, 0] > -width) & (uv[:, 0] < 2 * width) & (uv[:, 1] > -height) & (uv[:, 1] < 2 * height)
    breaks = np.flatnonzero(np.diff(inside.astype(int)) != 0) + 1
    return [
        run
        for run, kept in zip(np.split(uv, breaks), np.split(inside, breaks), strict=True)
        if len(run) > 1 and kept.all()
    ]


def project_pitch(camera: Camera, width: int, height: int) -> list[np.ndarray]:
    """Each marking's visible polyline pieces in pixels (points behind the camera dropped)."""
    pieces = []
    for name in pitch.CLASS_NAMES:
        uv, depth = camera.project(pitch.sample_marking(name, 0.25))
        pieces += visible_pieces(uv, depth > 0, width, height)
    return pieces


def project_ground(homography: np.ndarray, width: int, height: int) -> list[np.ndarray]:
    """The ground markings' visible polyline pieces through a homography (pitch metres -> pixels)
    whose points in front of the camera have w > 0."""
    pieces = []
    for name in GROUND_MARKINGS:
        ground = pitch.sample_marking(name, 0.25)[:, :2]
        mapped = np.column_stack([ground, np.ones(len(ground))]) @ np.asarray(homography, float).T
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = mapped[:, :2] / mapped[:, 2:]
        pieces += visible_pieces(uv, mapped[:, 2] > 0, width, height)
    return pieces


def draw_overlay(image: np.ndarray, pieces: list[np.ndarray], points: np.ndarray) -> np.ndarray:
    """A copy of ``image`` (RGB) at its own size with the projected pitch ``pieces`` and the
    detected keypoints ``points`` (N, 2) drawn on it; lines and dots grow with the image."""
    canvas = np.ascontiguousarray(image).copy()
    thickness = max(1, round(image.shape[1] / 640))
    subpixel = 4  # cv2 draws at 1/4 pixel with shift=2
    for piece in pieces:
        polyline = np.round(piece * subpixel).astype(np.int32)
        cv2.polylines(canvas, [polyline], False, LINE_RGB, thickness, cv2.LINE_AA, shift=2)
    for x, y in np.asarray(points).reshape(-1, 2):
        centre = (round(x * subpixel), round(y * subpixel))
        cv2.circle(canvas, centre, (2 * thickness + 1) * subpixel, POINT_RGB, -1, cv2.LINE_AA, shift=2)
    return canvas


def keypoint_picture(
    image: np.ndarray,
    xy: np.ndarray,
    confidence: np.ndarray,
    keypoints: Sequence[int],
    min_confidence: float,
    pieces: list[np.ndarray] | None,
    geometry: str,
):
    """A matplotlib figure of ``image`` (RGB) with the detected keypoints and the projected pitch
    ``pieces`` (None: ``geometry`` could not be found)."""
    import matplotlib.pyplot as plt

    height, width = image.shape[:2]
    figure, ax = plt.subplots(figsize=(10, 10 * height / width))
    ax.imshow(image)
    for piece in pieces or []:
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
    status = (
        f"projected pitch from the {geometry}" if pieces is not None else f"no {geometry}: too few keypoints"
    )
    ax.set_title(f"{int(shown.sum())} keypoints detected; {status}")
    figure.tight_layout()
    return figure


def calibration_picture(
    image: np.ndarray,
    xy: np.ndarray,
    confidence: np.ndarray,
    keypoints: Sequence[int],
    min_confidence: float,
):
    """The keypoints and the pitch seen by the camera calibrated from them."""
    height, width = image.shape[:2]
    camera = calibrate_subset(xy, confidence, keypoints, width, height, min_confidence)
    pieces = None if camera is None else project_pitch(camera, width, height)
    return keypoint_picture(image, xy, confidence, keypoints, min_confidence, pieces, "calibrated camera")


def homography_picture(
    image: np.ndarray,
    xy: np.ndarray,
    confidence: np.ndarray,
    keypoints: Sequence[int],
    min_confidence: float,
    homography: np.ndarray,
):
    """The keypoints and the ground markings through the homography fitted to them (NaN: none)."""
    height, width = image.shape[:2]
    pieces = project_ground(homography, width, height) if np.isfinite(homography).all() else None
    return keypoint_picture(image, xy, confidence, keypoints, min_confidence, pieces, "fitted homography")
