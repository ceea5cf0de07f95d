"""Random broadcast cameras: the shots a SoccerNet frame is taken from.

Kinds follow what broadcast footage shows: the main camera (high and low) on the halfway
side, cameras behind either goal, and zoomed close-ups. A camera is kept only when it
sees enough of the pitch for calibration to be meaningful.
"""

from __future__ import annotations

import numpy as np

from colab_utils.geometry import pitch as P
from colab_utils.geometry.camera import Camera
from colab_utils.geometry.keypoints import WORLD_57

KINDS = ("main_high", "main_low", "behind_goal", "close_up")
DEFAULT_MIX = {"main_high": 0.45, "main_low": 0.25, "behind_goal": 0.15, "close_up": 0.15}
WIDTH, HEIGHT = 960, 540


def look_at(
    position: np.ndarray, target: np.ndarray, roll_deg: float, fov_deg: float, width: int, height: int
) -> Camera:
    """A camera at ``position`` aimed at ``target`` with a horizontal field of view of ``fov_deg``."""
    forward = target - position
    forward /= np.linalg.norm(forward)
    down = np.array([0.0, 0.0, 1.0])  # world z points down
    right = np.cross(down, forward)
    right /= np.linalg.norm(right)
    image_down = np.cross(forward, right)
    rotation = np.stack([right, image_down, forward])  # rows: camera axes in world coordinates
    c, s = np.cos(np.radians(roll_deg)), np.sin(np.radians(roll_deg))
    rotation = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]]) @ rotation
    focal = (width / 2) / np.tan(np.radians(fov_deg) / 2)
    return Camera.from_rotation(rotation, position, focal, focal, width / 2, height / 2)


def _main(rng: np.random.Generator, high: bool) -> tuple[np.ndarray, np.ndarray, float]:
    height = rng.uniform(14, 28) if high else rng.uniform(6, 12)
    position = np.array([rng.uniform(-12, 12), P.HALF_W + rng.uniform(12, 35), -height])
    target = np.array([rng.uniform(-45, 45), rng.uniform(-20, 20), 0.0])
    return position, target, rng.uniform(22, 55)


def _behind_goal(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    side = rng.choice([-1.0, 1.0])
    position = np.array([side * (P.HALF_L + rng.uniform(6, 25)), rng.uniform(-12, 12), -rng.uniform(6, 22)])
    target = np.array([side * rng.uniform(20, 42), rng.uniform(-12, 12), 0.0])
    return position, target, rng.uniform(40, 70)


def _close_up(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    position = np.array([rng.uniform(-15, 15), P.HALF_W + rng.uniform(12, 35), -rng.uniform(12, 25)])
    target = np.array([rng.uniform(-50, 50), rng.uniform(-30, 30), 0.0])
    return position, target, rng.uniform(8, 18)


def visible_keypoints(camera: Camera, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """Boolean mask of the 57 keypoints that project inside the image, in front of the camera."""
    uv, depth = camera.project(WORLD_57)
    with np.errstate(invalid="ignore"):
        inside = (uv[:, 0] >= 0) & (uv[:, 0] <= width - 1) & (uv[:, 1] >= 0) & (uv[:, 1] <= height - 1)
    return inside & (depth > 0)


def random_camera(
    rng: np.random.Generator,
    kind: str | None = None,
    mix: dict[str, float] | None = None,
    min_keypoints: int = 6,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> tuple[Camera, str]:
    """Draw a camera of ``kind`` (or one drawn from ``mix``) that sees >= ``min_keypoints`` keypoints."""
    mix = mix or DEFAULT_MIX
    if kind is None:
        names = list(mix)
        probs = np.array([mix[n] for n in names], dtype=float)
        kind = str(rng.choice(names, p=probs / probs.sum()))
    if kind not in KINDS:
        raise ValueError(f"unknown camera kind {kind!r}; valid kinds: {', '.join(KINDS)}")
    for _ in range(1000):
        if kind.startswith("main"):
            position, target, fov = _main(rng, high=kind == "main_high")
        elif kind == "behind_goal":
            position, target, fov = _behind_goal(rng)
        else:
            position, target, fov = _close_up(rng)
        camera = look_at(position, target, rng.normal(0, 1.0), fov, width, height)
        if visible_keypoints(camera, width, height).sum() >= min_keypoints:
            return camera, kind
    raise RuntimeError(f"could not draw a {kind} camera seeing {min_keypoints} keypoints")
