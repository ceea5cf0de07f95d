"""Smoothing a video's cameras: less frame-to-frame jitter on a noisy pan, still close to the truth,
and a fresh start at a shot cut or a frame without a camera."""

from __future__ import annotations

import numpy as np
import pytest

from colab_utils.calibration.smoothing import GRID, CameraSmoother, grid_shift
from colab_utils.geometry.camera import Camera

WIDTH, HEIGHT = 960, 540


def broadcast(pan: float, fx: float = 800.0) -> Camera:
    """The main camera at the half-way line, 40 m back and 20 m up (z down), looking at the pitch."""
    return Camera(pan, 62.0, 0.0, [0.0, 40.0, -20.0], fx, fx, WIDTH / 2, HEIGHT / 2)


def pan_sequence(frames: int = 120) -> list[Camera]:
    """A slow pan with a slow zoom: what a broadcast camera does between two cuts."""
    pans, focals = np.linspace(-15, 15, frames), np.linspace(700, 900, frames)
    return [broadcast(pan, fx) for pan, fx in zip(pans, focals, strict=True)]


def noisy(camera: Camera, rng: np.random.Generator) -> Camera:
    """A camera as one frame's fit gives it: a few tenths of a degree, half a metre, 1 % of zoom off."""
    pan, tilt, roll = np.array([camera.pan, camera.tilt, camera.roll]) + rng.normal(0, 0.25, 3)
    fx = camera.fx * (1 + rng.normal(0, 0.01))
    position = camera.position + rng.normal(0, 0.5, 3)
    return Camera(pan, tilt, roll, position, fx, fx, camera.cx, camera.cy)


def pixel_errors(homographies: list[np.ndarray], truth: list[Camera]) -> np.ndarray:
    """(frames, grid points, 2): where each homography puts the pitch grid, minus the truth's pixels."""
    errors = []
    for homography, camera in zip(homographies, truth, strict=True):
        mapped, true = GRID @ homography.T, GRID @ camera.ground_homography().T
        errors.append(mapped[:, :2] / mapped[:, 2:] - true[:, :2] / true[:, 2:])
    return np.array(errors)


def jitter_and_error(homographies: list[np.ndarray], truth: list[Camera]) -> tuple[float, float]:
    """Mean frame-to-frame change of the pixel error (jitter) and mean pixel error, over the grid points
    the true camera sees in every frame."""
    true = np.array([GRID @ c.ground_homography().T for c in truth])
    uv = true[..., :2] / true[..., 2:]
    seen = ((true[..., 2] > 0) & (uv >= 0).all(-1) & (uv[..., 0] <= WIDTH) & (uv[..., 1] <= HEIGHT)).all(0)
    errors = pixel_errors(homographies, truth)[:, seen]
    assert seen.sum() >= 8
    jitter = np.linalg.norm(np.diff(errors, axis=0), axis=-1).mean()
    return float(jitter), float(np.linalg.norm(errors, axis=-1).mean())


@pytest.mark.parametrize("geometry", ["camera", "homography"])
def test_smoothing_halves_the_jitter_of_a_noisy_pan_and_stays_close_to_the_truth(geometry):
    rng = np.random.default_rng(0)
    truth = pan_sequence()
    fits = [noisy(camera, rng) for camera in truth]
    smoother = CameraSmoother(0.7)
    raw = [c.ground_homography() for c in fits]
    if geometry == "camera":
        smoothed = [smoother.camera(c, WIDTH, HEIGHT).ground_homography() for c in fits]
    else:
        smoothed = [smoother.homography(h, WIDTH, HEIGHT) for h in raw]
    raw_jitter, raw_error = jitter_and_error(raw, truth)
    jitter, error = jitter_and_error(smoothed, truth)
    print(f"\n{geometry}: jitter {raw_jitter:.2f} -> {jitter:.2f}, error {raw_error:.2f} -> {error:.2f} px")
    assert jitter < 0.5 * raw_jitter
    assert error < raw_error  # the lag of a slow pan costs less than the noise averaged away
    off = CameraSmoother(0.0)
    assert all(np.array_equal(off.homography(h, WIDTH, HEIGHT), h) for h in raw)


def test_a_cut_or_a_frame_without_a_camera_starts_afresh():
    rng = np.random.default_rng(1)
    smoother = CameraSmoother(0.9)
    for camera in pan_sequence(20):
        smoother.camera(noisy(camera, rng), WIDTH, HEIGHT)
    other_shot = broadcast(-40.0, fx=2000.0)  # the other half of the pitch, zoomed in: a cut
    assert smoother.camera(other_shot, WIDTH, HEIGHT) is other_shot
    close = noisy(other_shot, rng)  # the same shot goes on: averaged with the previous frame
    assert smoother.camera(close, WIDTH, HEIGHT) is not close
    assert smoother.camera(None, WIDTH, HEIGHT) is None
    assert smoother.camera(close, WIDTH, HEIGHT) is close  # nothing carried over the frame without one
    assert smoother.camera(close, 640, 360) is close  # another frame size: another video
    homography = broadcast(10.0).ground_homography()
    smoother.homography(homography, WIDTH, HEIGHT)
    cut = other_shot.ground_homography()
    assert smoother.homography(cut, WIDTH, HEIGHT) is cut
    again = noisy(other_shot, rng).ground_homography() * 3.0  # the scale of a homography means nothing
    smoothed = smoother.homography(again, WIDTH, HEIGHT)
    assert 0 < grid_shift(smoothed, again, WIDTH, HEIGHT) < smoother.cut  # averaged with the frame before
    with pytest.raises(ValueError, match="weight of the past frames"):
        CameraSmoother(1.0)
