"""A broadcast frame of the pitch seen by a known camera: cheap, but with what a model must cope with.

Every pixel's viewing ray is intersected with the ground plane, and the ground point is
coloured by world-space rules (mowing stripes along the length, so they follow the
perspective; a run-off strip; stands beyond it; sky and roof where the ray misses the
ground). The markings are then painted from the pitch model at their real 12 cm width,
projected, anti-aliased and fading below one pixel, with the centre and penalty marks;
then the goal frames, a few player-like blobs that occlude them, sensor noise and a mild
blur. A 960x540 frame takes about 25 ms on two CPU cores; the same rng state gives the
same image.
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

from colab_utils.geometry import pitch as P
from colab_utils.geometry.camera import Camera

LINE_WIDTH_M = 0.12
SPOT_RADIUS_M = 0.11
SAMPLE_STEP_M = 0.25
NEAR_DEPTH_M = 0.5
GOAL_CLASSES = tuple(name for name in P.CLASS_NAMES if name.startswith("Goal"))
GROUND_CLASSES = tuple(name for name in P.CLASS_NAMES if name not in GOAL_CLASSES)
_SUBPIXEL_BITS = 4
_LEVELS = 8  # intensity steps of markings thinner than one pixel


@cache
def _ground_samples() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points along the ground markings (N, 3), their in-plane normals (N, 3) and run ids (N,)."""
    points, normals, runs = [], [], []
    for run, name in enumerate(GROUND_CLASSES):
        marking = P.MARKINGS[name]
        pts = marking.sample(SAMPLE_STEP_M)
        if isinstance(marking, P.Segment):
            direction = np.subtract(marking.end, marking.start)
            normal = np.tile([-direction[1], direction[0], 0.0] / np.linalg.norm(direction), (len(pts), 1))
        else:
            normal = pts - [*marking.center, 0.0]
            normal /= np.linalg.norm(normal, axis=1, keepdims=True)
        points.append(pts)
        normals.append(normal)
        runs.append(np.full(len(pts), run))
    return np.concatenate(points), np.concatenate(normals), np.concatenate(runs)


def _ground_rays(camera: Camera, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pixel: ground x, y (metres) where its ray meets the pitch plane, and whether it does."""
    to_world = (camera.rotation.T @ np.linalg.inv(camera.K)).astype(np.float32)
    u = np.arange(width, dtype=np.float32)[None, :]
    v = np.arange(height, dtype=np.float32)[:, None]
    ray_x, ray_y, ray_z = (to_world[i, 0] * u + to_world[i, 1] * v + to_world[i, 2] for i in range(3))
    hits = ray_z > 1e-6
    depth = np.float32(-camera.position[2]) / np.where(hits, ray_z, np.float32(1.0))
    x = np.float32(camera.position[0]) + depth * ray_x
    y = np.float32(camera.position[1]) + depth * ray_y
    return x, y, hits & (depth < 2000)  # farther ground is haze: shown as sky


def _smooth_noise(rng: np.random.Generator, width: int, height: int, cell: int) -> np.ndarray:
    coarse = rng.standard_normal((height // cell + 2, width // cell + 2)).astype(np.float32)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


GRASS, STANDS, SKY = 0, 1, 2


def _surfaces(
    camera: Camera, rng: np.random.Generator, width: int, height: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel: what it shows (GRASS, STANDS or SKY, uint8) and a float32 brightness factor."""
    x, y, hits = _ground_rays(camera, width, height)
    runoff = rng.uniform(3.0, 6.0)
    grass = hits & (np.abs(x) <= P.HALF_L + runoff + 1.5) & (np.abs(y) <= P.HALF_W + runoff)
    stripes = int(rng.choice([16, 18, 20, 22, 24]))
    per_metre = np.float32(stripes / (P.LENGTH + 2 * runoff + 3.0))
    # Stripe parity along the length; x + offset >= 0 on the grass, so truncation is floor there.
    dark = (((x + np.float32(P.HALF_L + runoff + 1.5)) * per_metre).astype(np.int32) & 1).astype(np.float32)
    contrast = np.float32(rng.uniform(0.05, 0.14))
    grass_shade = 1 + contrast * (dark - 0.5) + 0.04 * _smooth_noise(rng, width, height, 24)
    crowd = 0.75 + 0.25 * _smooth_noise(rng, width, height, 6)
    shade = np.where(grass, grass_shade, np.where(hits, crowd, 0.9 + 0.1 * crowd))
    surface = np.where(grass, GRASS, np.where(hits, STANDS, SKY)).astype(np.uint8)
    return surface, shade


def _paint_ground_markings(camera: Camera, alpha: np.ndarray) -> None:
    """Draw the ground markings into ``alpha`` (uint8 coverage), each as wide as 12 cm projects."""
    points, normals, runs = _ground_samples()
    uv, depth = camera.project(points)
    left, _ = camera.project(points + normals * (LINE_WIDTH_M / 2))
    right, _ = camera.project(points - normals * (LINE_WIDTH_M / 2))
    tangents = np.column_stack([-normals[:, 1], normals[:, 0], normals[:, 2]])
    ahead, _ = camera.project(points + tangents * LINE_WIDTH_M)
    along = (ahead - uv) / np.maximum(np.linalg.norm(ahead - uv, axis=1, keepdims=True), 1e-9)
    across = right - left
    widths = np.abs(along[:, 0] * across[:, 1] - along[:, 1] * across[:, 0])
    usable = (depth > NEAR_DEPTH_M) & np.isfinite(widths) & (np.abs(uv) < 1e5).all(axis=1)
    _draw_polylines(alpha, uv, widths, usable, runs)


def _paint_spots(camera: Camera, alpha: np.ndarray) -> None:
    """The centre mark and the penalty marks: discs of 22 cm, filled where they span a pixel."""
    ring = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    disc = SPOT_RADIUS_M * np.column_stack([np.cos(ring), np.sin(ring), np.zeros_like(ring)])
    for x in (0.0, -P.PENALTY_MARK_X, P.PENALTY_MARK_X):
        uv, depth = camera.project(disc + [x, 0.0, 0.0])
        if np.all(depth > NEAR_DEPTH_M) and (np.abs(uv) < 1e5).all() and np.ptp(uv, axis=0).max() >= 1:
            polygon = np.rint(uv * (1 << _SUBPIXEL_BITS)).astype(np.int32)
            cv2.fillPoly(alpha, [polygon], 255, cv2.LINE_AA, _SUBPIXEL_BITS)


def _paint_goals(camera: Camera, alpha: np.ndarray) -> None:
    """Posts and crossbars: 12 cm round bars, so as wide as 12 cm seen at their depth."""
    segments = [P.MARKINGS[name].sample(0.1) for name in GOAL_CLASSES]
    points = np.concatenate(segments)
    runs = np.concatenate([np.full(len(s), i) for i, s in enumerate(segments)])
    uv, depth = camera.project(points)
    usable = (depth > NEAR_DEPTH_M) & (np.abs(np.nan_to_num(uv, nan=1e9)) < 1e5).all(axis=1)
    widths = camera.fx * LINE_WIDTH_M / np.maximum(depth, NEAR_DEPTH_M)
    _draw_polylines(alpha, uv, widths, usable, runs)


def _draw_polylines(
    alpha: np.ndarray, uv: np.ndarray, widths: np.ndarray, usable: np.ndarray, runs: np.ndarray
) -> None:
    """Anti-aliased polylines whose thickness (or, below a pixel, intensity) follows ``widths``.

    Consecutive samples of one marking with the same drawing level form one polyline, and
    each level is one cv2.polylines call, so a frame needs a handful of calls.
    """
    widths = np.nan_to_num(widths, nan=1.0, posinf=1.0)
    thickness = np.maximum(np.ceil(widths), 1).astype(int)
    intensity = np.clip(np.ceil(widths / thickness * _LEVELS), 1, _LEVELS).astype(int)
    level = thickness * (_LEVELS + 1) + intensity
    fixed = np.rint(np.clip(np.nan_to_num(uv), -1e5, 1e5) * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    # A polyline breaks where a sample is unusable or the marking or level changes; each piece
    # keeps its next sample so that consecutive pieces meet.
    breaks = np.flatnonzero(~usable[1:] | ~usable[:-1] | (runs[1:] != runs[:-1]) | (level[1:] != level[:-1]))
    starts = np.concatenate([[0], breaks + 1])
    stops = np.concatenate([breaks + 1, [len(uv)]])
    pieces: dict[int, list[np.ndarray]] = {}
    for start, stop in zip(starts, stops, strict=True):
        if not usable[start]:
            continue
        end = stop + 1 if stop < len(uv) and usable[stop] and runs[stop] == runs[start] else stop
        if end - start >= 2:
            pieces.setdefault(int(level[start]), []).append(fixed[start:end])
    for key, polylines in sorted(pieces.items()):
        thick, strength = divmod(key, _LEVELS + 1)
        colour = round(255 * strength / _LEVELS)
        cv2.polylines(alpha, polylines, False, colour, thick, cv2.LINE_AA, _SUBPIXEL_BITS)


def _paint_players(camera: Camera, rng: np.random.Generator, image: np.ndarray) -> None:
    """A few upright ellipses in two kits and a referee's black, far ones first."""
    count = int(rng.integers(0, 12))
    feet = np.column_stack(
        [rng.uniform(-P.HALF_L, P.HALF_L, count), rng.uniform(-P.HALF_W, P.HALF_W, count), np.zeros(count)]
    )
    heads = feet - [0.0, 0.0, 1.0] * rng.uniform(1.7, 1.95, (count, 1))
    kits = rng.uniform(0, 255, (2, 3))
    colours = [kits[i % 2] if i else np.array([20.0, 20.0, 20.0]) for i in range(count)]
    (foot_uv, depth), (head_uv, _) = camera.project(feet), camera.project(heads)
    height = image.shape[0]
    for i in np.argsort(-depth):
        size = float(np.linalg.norm(foot_uv[i] - head_uv[i]))
        if not (depth[i] > NEAR_DEPTH_M and 2 < size < 0.6 * height):
            continue
        centre = (foot_uv[i] + head_uv[i]) / 2
        if not (np.abs(centre) < 1e5).all():
            continue
        angle = float(np.degrees(np.arctan2(*(foot_uv[i] - head_uv[i])[::-1]))) - 90
        axes = (max(1, round(size * 0.14)), max(1, round(size / 2)))
        cv2.ellipse(image, (round(centre[0]), round(centre[1])), axes, angle, 0, 360, colours[i].tolist(), -1)


def render_frame(
    camera: Camera,
    rng: np.random.Generator,
    width: int | None = None,
    height: int | None = None,
    players: bool = True,
) -> np.ndarray:
    """The BGR uint8 image (height, width, 3) of the pitch seen by ``camera``.

    The size defaults to the camera's (twice its principal point). Lens distortion is not
    rendered, so a distorted camera is refused rather than drawn wrongly.
    """
    if camera.has_distortion:
        raise ValueError("render_frame draws pinhole cameras only; this camera has lens distortion")
    default_width, default_height = camera.image_size
    width, height = width or default_width, height or default_height
    palette = np.array(  # BGR of GRASS, STANDS, SKY
        [
            [rng.uniform(35, 70), rng.uniform(105, 150), rng.uniform(40, 80)],
            rng.uniform(40, 110, 3),
            rng.uniform(120, 210, 3),
        ],
        dtype=np.float32,
    )
    surface, shade = _surfaces(camera, rng, width, height)
    alpha = np.zeros((height, width), np.uint8)
    _paint_ground_markings(camera, alpha)
    _paint_spots(camera, alpha)
    _paint_goals(camera, alpha)
    paint = alpha.astype(np.float32) * np.float32(1 / 255)
    # colour = palette[surface] * shade * (1 - paint) + white * paint + noise, one channel at a time
    base = shade * (1 - paint)
    noise = np.frombuffer(rng.bytes(width * height), np.uint8).reshape(height, width).astype(np.float32)
    light = np.float32(rng.uniform(215, 250)) * paint + (noise - 127.5) * np.float32(rng.uniform(0.03, 0.07))
    channels = [np.take(palette[:, c], surface) * base + light for c in range(3)]
    frame = cv2.convertScaleAbs(cv2.merge(channels))
    if players:
        _paint_players(camera, rng, frame)
    return cv2.GaussianBlur(frame, (0, 0), rng.uniform(0.5, 0.9))
