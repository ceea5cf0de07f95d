"""Temporal smoothing of a video's cameras: each frame's fit alone jitters by a few pixels, which a
video shows as shaking lines, although the real broadcast camera moves smoothly.

The method is an exponential moving average (EMA), causal so that a video streams through it
frame by frame: ``smoothed = weight * previous smoothed + (1 - weight) * this frame's fit``.

* A calibrated camera is averaged over its parameters: pan, tilt and roll (differences taken on
  the circle, so 179 and -179 degrees are 2 apart), position, and the focal length's logarithm
  (zoom is a ratio); the principal point and distortion are the frame's own.
* A homography (pitch metres -> pixels) is averaged as a matrix scaled to unit norm with the
  pitch centre in front of the camera (its w > 0), so that the two matrices averaged describe
  the same mapping at the same scale.

The average restarts from the frame's own fit when the frame has none (the previous one is not
carried over), when the frame size changes, and at a shot cut: when the pitch points in view
(a 10 m grid) move by more than ``cut`` times the image diagonal on average between the
smoothed geometry and the new fit, or fewer than four of them are in view of both. The price
of smoothing is lag: a steady pan is followed about ``weight / (1 - weight)`` frames late
(0.5: one frame, 0.8: four).
"""

from __future__ import annotations

import numpy as np

from colab_utils.geometry.camera import Camera

GRID = np.array([(x, y, 1.0) for x in np.arange(-50.0, 51.0, 10.0) for y in np.arange(-30.0, 31.0, 10.0)])


def grid_shift(before: np.ndarray, after: np.ndarray, width: int, height: int) -> float:
    """The mean pixel distance, over the grid points in view of both homographies, that ``after`` moves
    them from ``before``, as a share of the image diagonal; inf with fewer than four such points."""
    a, b = GRID @ np.asarray(before, float).T, GRID @ np.asarray(after, float).T
    in_front = (a[:, 2] > 0) & (b[:, 2] > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = a[:, :2] / a[:, 2:], b[:, :2] / b[:, 2:]
    size = np.array([width, height])
    in_view = in_front & (((a >= 0) & (a <= size)).all(axis=1) | ((b >= 0) & (b <= size)).all(axis=1))
    if in_view.sum() < 4:
        return float("inf")
    return float(np.linalg.norm(a[in_view] - b[in_view], axis=1).mean() / np.hypot(width, height))


def unit_homography(homography: np.ndarray) -> np.ndarray:
    """``homography`` scaled to unit norm with the pitch centre's w positive (one matrix per mapping)."""
    homography = np.asarray(homography, float)
    return homography / (np.linalg.norm(homography) * np.sign(homography[2, 2]))


class CameraSmoother:
    """The EMA of a video's cameras or homographies (module docstring), fed one frame at a time in order.

    ``weight`` in [0, 1) is the share of the past in each step (0: no smoothing); ``cut`` the
    mean movement, as a share of the image diagonal, above which a frame starts a new shot.
    """

    def __init__(self, weight: float, cut: float = 0.1) -> None:
        if not 0.0 <= weight < 1.0:
            raise ValueError(f"smooth is the weight of the past frames, 0 (off) to below 1, not {weight}")
        self.weight, self.cut = float(weight), float(cut)
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next frame starts from its own fit (a new video or shot)."""
        self.state: Camera | np.ndarray | None = None
        self.size: tuple[int, int] | None = None

    def _continues(self, homography: np.ndarray, previous: np.ndarray, width: int, height: int) -> bool:
        """Whether this frame continues the shot being averaged (same size, no cut)."""
        if self.size != (width, height):
            return False
        return grid_shift(previous, homography, width, height) <= self.cut

    def camera(self, camera: Camera | None, width: int, height: int) -> Camera | None:
        """The smoothed camera of this frame of ``width`` x ``height`` (None: the frame has none)."""
        if camera is None or self.weight == 0.0:
            self.reset()
            return camera
        previous = self.state
        if not isinstance(previous, Camera) or not self._continues(
            camera.ground_homography(), previous.ground_homography(), width, height
        ):
            self.state, self.size = camera, (width, height)
            return camera
        new = 1.0 - self.weight
        angles = np.array([camera.pan, camera.tilt, camera.roll])
        before = np.array([previous.pan, previous.tilt, previous.roll])
        pan, tilt, roll = before + new * ((angles - before + 180.0) % 360.0 - 180.0)
        position = previous.position + new * (camera.position - previous.position)
        fx = float(np.exp(np.log(previous.fx) + new * (np.log(camera.fx) - np.log(previous.fx))))
        smoothed = Camera(
            pan, tilt, roll, position, fx, fx * camera.fy / camera.fx, camera.cx, camera.cy,
            camera.radial, camera.tangential, camera.thin_prism,
        )  # fmt: skip
        self.state = smoothed
        return smoothed

    def homography(self, homography: np.ndarray | None, width: int, height: int) -> np.ndarray | None:
        """The smoothed homography (pitch metres -> pixels) of this frame (None: the frame has none)."""
        if homography is None or self.weight == 0.0:
            self.reset()
            return homography
        unit = unit_homography(homography)
        previous = self.state
        if not isinstance(previous, np.ndarray) or not self._continues(unit, previous, width, height):
            self.state, self.size = unit, (width, height)
            return homography
        smoothed = unit_homography(self.weight * previous + (1.0 - self.weight) * unit)
        self.state = smoothed
        return smoothed
