"""Small image crops around a ball in broadcast frames, rendered for a whole clip at once.

Rendering the full frame for every frame of a clip (``render.render_frame``) costs ~3 ms
per 64x64 crop, most of it in projecting every pitch marking; a data loader on two cores
needs a clip of 48 crops in a few tens of milliseconds. So this renderer works per crop
pixel, in world coordinates, with the same rules as the frame renderer: each pixel's
viewing ray meets the ground; the ground point gets the grass colour with mowing stripes
along the length (and a run-off strip, stands beyond, sky above the horizon); markings of
12 cm are painted where the ground point is near one, with a box filter as wide as the
pixel's footprint across the line (so far lines fade instead of aliasing). Only markings
whose box overlaps a crop's ground footprint are evaluated.

On top of the ground: the ball's shadow (an ellipse on the grass along the light, with a
penumbra that widens with the ball's height), the ball (a shaded disc whose size follows
its depth, swept along its path while the shutter is open: motion blur, computed exactly
for a straight path as the share of the exposure each pixel spends inside the disc), an
occluding player when there is one, frame borders (black outside the broadcast frame),
optical blur and sensor noise. Goal frames and other players are not drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from colab_utils.geometry import pitch as P
from colab_utils.geometry.camera import Camera
from colab_utils.geometry.rays import pixel_to_ray_matrix
from colab_utils.synthetic.render import GRASS, LINE_WIDTH_M, SKY, SPOT_RADIUS_M, STANDS

SUN_ANGULAR_SIZE = 0.0093  # radians: the width of the penumbra per metre of height


@dataclass(frozen=True)
class Scene:
    """What stays the same over a clip: colours, stripes, light, the ball's colour, camera noise."""

    palette: np.ndarray  # (3, 3) RGB of GRASS, STANDS, SKY
    runoff: float
    stripes: int
    contrast: float
    waves: np.ndarray  # (K, 4): amplitude, kx, ky, phase of the grass's world-anchored shading
    light: np.ndarray  # (3,) unit direction the light travels in (z > 0: downwards)
    shadow_strength: float  # 0: overcast, no shadow
    ball_rgb: np.ndarray  # (3,)
    line_brightness: float
    noise_level: float  # sensor noise, grey levels
    blur_px: float  # optical blur, frame pixels


@dataclass(frozen=True)
class Occluder:
    """A player in front of the ball: an ellipse in frame pixels."""

    centre: tuple[float, float]
    axes: tuple[float, float]
    angle_deg: float
    rgb: tuple[float, float, float]


def random_scene(rng: np.random.Generator) -> Scene:
    """Colours and light of one clip, in the ranges the frame renderer uses."""
    grass = [rng.uniform(40, 80), rng.uniform(105, 150), rng.uniform(35, 70)]
    palette = np.array([grass, rng.uniform(40, 110, 3), rng.uniform(120, 210, 3)], dtype=np.float32)
    directions = rng.uniform(0, 2 * np.pi, 4)
    wavelengths = rng.uniform(4.0, 20.0, 4)
    waves = np.column_stack(
        [
            rng.uniform(0.5, 1.0, 4),
            2 * np.pi / wavelengths * np.cos(directions),
            2 * np.pi / wavelengths * np.sin(directions),
            rng.uniform(0, 2 * np.pi, 4),
        ]
    ).astype(np.float32)
    elevation, azimuth = np.radians(rng.uniform(25, 75)), rng.uniform(0, 2 * np.pi)
    light = np.array(
        [np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)]
    )
    shadow = 0.0 if rng.random() < 0.2 else float(rng.uniform(0.25, 0.6))
    return Scene(
        palette=palette,
        runoff=float(rng.uniform(3.0, 6.0)),
        stripes=int(rng.choice([16, 18, 20, 22, 24])),
        contrast=float(rng.uniform(0.05, 0.14)),
        waves=waves,
        light=light,
        shadow_strength=shadow,
        ball_rgb=rng.uniform(200, 250, 3) * np.array([1.0, 1.0, rng.uniform(0.85, 1.0)]),
        line_brightness=float(rng.uniform(215, 250)),
        noise_level=float(rng.uniform(1.5, 4.0)),
        blur_px=float(rng.uniform(0.5, 0.9)),
    )


@cache
def _markings() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ground markings as primitives: segments (x0, y0, x1, y1), arcs (cx, cy, r, a0, a1), spots (x, y)."""
    segments, arcs = [], []
    for marking in P.MARKINGS.values():
        if isinstance(marking, P.Segment):
            if marking.start[2] == 0 and marking.end[2] == 0:  # goal posts and crossbars stand up
                segments.append([marking.start[0], marking.start[1], marking.end[0], marking.end[1]])
        else:
            arcs.append([*marking.center, marking.radius, marking.start_angle, marking.end_angle])
    spots = [[0.0, 0.0], [-P.PENALTY_MARK_X, 0.0], [P.PENALTY_MARK_X, 0.0]]
    return np.array(segments), np.array(arcs), np.array(spots)


def _box_coverage(distance: np.ndarray, footprint: np.ndarray, half_width: float) -> np.ndarray:
    """Share of a pixel (``footprint`` metres wide across the line) covered by a line 2 x half_width wide."""
    low = np.maximum(distance - footprint / 2, -half_width)
    high = np.minimum(distance + footprint / 2, half_width)
    return np.maximum(high - low, 0) / footprint


def _across(nx: np.ndarray, ny: np.ndarray, jacobian: tuple[np.ndarray, ...]) -> np.ndarray:
    """Width of the pixels' ground footprints along the unit normal (nx, ny)."""
    xj, yj, xi, yi = jacobian
    return np.maximum(np.abs(nx * xj + ny * yj) + np.abs(nx * xi + ny * yi), 1e-4)


def _near(lo: np.ndarray, hi: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Indices of the crops whose ground box (lo, hi: (T, 2)) overlaps ``box`` (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    return np.flatnonzero((hi[:, 0] >= x0) & (lo[:, 0] <= x1) & (hi[:, 1] >= y0) & (lo[:, 1] <= y1))


def _paint_markings(x: np.ndarray, y: np.ndarray, hits: np.ndarray, jacobian: tuple) -> np.ndarray:
    """Coverage (T, S, S) of the ground markings; each marking is evaluated only on the crops it may touch."""
    paint = np.zeros_like(x)
    size = np.where(hits, np.abs(jacobian[0]) + np.abs(jacobian[2]), 0).max(axis=(1, 2))  # a pixel, metres
    reach = np.minimum(size, 5.0) + LINE_WIDTH_M
    big = np.float32(1e9)
    lo = np.column_stack([np.where(hits, x, big).min(axis=(1, 2)), np.where(hits, y, big).min(axis=(1, 2))])
    hi = np.column_stack([np.where(hits, x, -big).max(axis=(1, 2)), np.where(hits, y, -big).max(axis=(1, 2))])
    lo, hi = lo - reach[:, None], hi + reach[:, None]
    segments, arcs, spots = _markings()
    half = LINE_WIDTH_M / 2
    for x0, y0, x1, y1 in segments:
        crops = _near(lo, hi, (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
        if len(crops) == 0:
            continue
        cx, cy, jac = x[crops], y[crops], tuple(j[crops] for j in jacobian)
        dx, dy = x1 - x0, y1 - y0
        length = np.hypot(dx, dy)
        t = np.minimum(np.maximum(((cx - x0) * dx + (cy - y0) * dy) / length**2, 0), 1)
        distance = np.hypot(cx - x0 - t * dx, cy - y0 - t * dy)
        footprint = _across(np.float32(-dy / length), np.float32(dx / length), jac)
        paint[crops] = np.maximum(paint[crops], _box_coverage(distance, footprint, half))
    for cx0, cy0, radius, a0, a1 in arcs:
        crops = _near(lo, hi, (cx0 - radius, cy0 - radius, cx0 + radius, cy0 + radius))
        if len(crops) == 0:
            continue
        cx, cy, jac = x[crops], y[crops], tuple(j[crops] for j in jacobian)
        rx, ry = cx - cx0, cy - cy0
        rho = np.maximum(np.hypot(rx, ry), 1e-6)
        angle = np.mod(np.arctan2(ry, rx) - a0, 2 * np.pi)
        on_arc = angle <= (a1 - a0) + 1e-9
        ends = [(cx0 + radius * np.cos(a), cy0 + radius * np.sin(a)) for a in (a0, a1)]
        to_end = np.minimum(*(np.hypot(cx - ex, cy - ey) for ex, ey in ends))
        distance = np.where(on_arc, np.abs(rho - radius), to_end)
        footprint = _across(rx / rho, ry / rho, jac)
        paint[crops] = np.maximum(paint[crops], _box_coverage(distance, footprint, half))
    for sx, sy in spots:
        crops = _near(lo, hi, (sx, sy, sx, sy))
        if len(crops) == 0:
            continue
        rx, ry = x[crops] - sx, y[crops] - sy
        rho = np.maximum(np.hypot(rx, ry), 1e-6)
        footprint = _across(rx / rho, ry / rho, tuple(j[crops] for j in jacobian))
        paint[crops] = np.maximum(paint[crops], _box_coverage(rho, footprint, SPOT_RADIUS_M))
    return paint * hits


def _hash01(ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    """A fixed pseudo-random value in [0, 1) per integer cell (the crowd's texture)."""
    value = np.sin(ix * np.float32(12.9898) + iy * np.float32(78.233)) * np.float32(43758.547)
    return value - np.floor(value)


def _background(
    scene: Scene, x: np.ndarray, y: np.ndarray, hits: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """What each pixel shows (GRASS, STANDS or SKY) and its brightness factor, (T, S, S) each."""
    grass = hits & (np.abs(x) <= P.HALF_L + scene.runoff + 1.5) & (np.abs(y) <= P.HALF_W + scene.runoff)
    per_metre = np.float32(scene.stripes / (P.LENGTH + 2 * scene.runoff + 3.0))
    offset = np.float32(P.HALF_L + scene.runoff + 1.5)
    dark = (np.floor((x + offset) * per_metre).astype(np.int32) & 1).astype(np.float32)
    waves = sum(a * np.sin(kx * x + ky * y + phase) for a, kx, ky, phase in scene.waves)
    shade = 1 + np.float32(scene.contrast) * (dark - 0.5) + np.float32(0.02) * waves
    surface = np.where(grass, GRASS, np.where(hits, STANDS, SKY)).astype(np.uint8)
    stands = surface == STANDS
    if stands.any():  # the crowd's texture, only where it shows
        shade[stands] = 0.75 + 0.25 * _hash01(np.floor(x[stands] * 2), np.floor(y[stands] * 2))
    shade[surface == SKY] = 0.95
    return surface, shade


def _shadow(scene: Scene, x: np.ndarray, y: np.ndarray, hits: np.ndarray, balls: np.ndarray, radius: float):
    """Shadow coverage (T, S, S) on the ground of the ball at ``balls`` (T, 3)."""
    light = scene.light.astype(np.float32)
    along = light[:2] / max(np.linalg.norm(light[:2]), 1e-6)
    ball = balls.astype(np.float32)
    reach = -ball[:, 2] / light[2]  # from the ball down to the ground along the light
    gx = (ball[:, 0] + reach * light[0])[:, None, None]
    gy = (ball[:, 1] + reach * light[1])[:, None, None]
    qa = (x - gx) * along[0] + (y - gy) * along[1]
    qp = -(x - gx) * along[1] + (y - gy) * along[0]
    rho = np.sqrt((qa * light[2]) ** 2 + qp**2) / radius  # 1 on the ellipse's edge
    height = (-ball[:, 2] - radius)[:, None, None]
    penumbra = np.maximum(height * SUN_ANGULAR_SIZE / light[2], 0.02) / radius
    return np.clip((1 - rho) / penumbra + 0.5, 0, 1) * hits


def _project(cameras: Sequence[Camera], points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (T, N, 2) and depths (T, N) of points (T, N, 3), each row seen by its frame's camera."""
    rotations = np.stack([c.rotation for c in cameras])
    positions = np.stack([c.position for c in cameras])
    local = np.einsum("tij,tnj->tni", rotations, points - positions[:, None])
    depth = local[..., 2]
    focal = np.array([[c.fx, c.fy] for c in cameras])[:, None]
    centre = np.array([[c.cx, c.cy] for c in cameras])[:, None]
    return local[..., :2] / depth[..., None] * focal + centre, depth


def _chord(along: np.ndarray, across: np.ndarray, length: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Share of the exposure a pixel spends inside a disc of ``radius`` moving over ``length`` pixels.

    ``along``/``across``: the pixel's offset from the disc's start along and across its path.
    """
    half = np.sqrt(np.maximum(radius**2 - across**2, 0))
    moving = length > 1e-3
    span = np.minimum(np.maximum(along + half, 0), length) - np.minimum(np.maximum(along - half, 0), length)
    return np.where(moving, span / np.maximum(length, 1e-3), (np.abs(along) < half).astype(np.float32))


def _ball_coverage(
    cameras: Sequence[Camera],
    centres: np.ndarray,
    scales: np.ndarray,
    exposure: np.ndarray,
    radius: float,
    grid,
) -> tuple[np.ndarray, np.ndarray]:
    """Coverage (T, S, S) of the ball swept from ``exposure[:, 0]`` to ``exposure[:, 1]``, and its shading.

    The path over one exposure (at most 20 ms) is taken as straight; the coverage is averaged
    over two radii half a pixel apart, a cheap anti-aliasing.
    """
    u, v = grid
    uv, depth = _project(cameras, exposure)
    scale = scales[:, None]
    crop = (uv - centres[:, None]) / scale[..., None]  # (T, 2, 2): crop pixels of the path's ends
    focal = np.array([c.fx for c in cameras])[:, None]
    pixels = (focal * radius / np.maximum(depth, 0.1) / scale).mean(axis=1)  # (T,) radius, crop pixels
    path = crop[:, 1] - crop[:, 0]
    length = np.hypot(path[:, 0], path[:, 1])
    still = length < 1e-3
    direction = np.where(
        still[:, None], [1.0, 0.0], path / np.maximum(length, 1e-3)[:, None]
    )  # any axis if still
    du = u - crop[:, 0, 0, None, None].astype(np.float32)
    dv = v - crop[:, 0, 1, None, None].astype(np.float32)
    along = du * direction[:, 0, None, None] + dv * direction[:, 1, None, None]
    across = -du * direction[:, 1, None, None] + dv * direction[:, 0, None, None]
    length_, r = length[:, None, None].astype(np.float32), pixels[:, None, None].astype(np.float32)
    coverage = 0.5 * (
        _chord(along, across, length_, np.maximum(r - 0.5, 0)) + _chord(along, across, length_, r + 0.5)
    )
    coverage *= (depth > 0).all(axis=1)[:, None, None]
    middle = crop.mean(axis=1)[:, 1, None, None].astype(np.float32)
    shading = 0.8 - 0.2 * np.clip((v - middle) / np.maximum(r, 0.5), -1, 1)
    return coverage, shading


def _occluder_coverage(occluder: Occluder, centre: np.ndarray, grid: tuple, scale: float) -> np.ndarray:
    u, v = grid
    du = u - np.float32((occluder.centre[0] - centre[0]) / scale)
    dv = v - np.float32((occluder.centre[1] - centre[1]) / scale)
    c, s = np.cos(np.radians(occluder.angle_deg)), np.sin(np.radians(occluder.angle_deg))
    a, b = occluder.axes[0] / scale, occluder.axes[1] / scale
    rho = np.sqrt(((du * c + dv * s) / a) ** 2 + ((-du * s + dv * c) / b) ** 2)
    return np.clip((1 - rho) * min(a, b) + 0.5, 0, 1)


def render_crops(
    scene: Scene,
    cameras: Sequence[Camera],
    centres: np.ndarray,
    scales: np.ndarray,
    exposure: np.ndarray,
    rng: np.random.Generator,
    crop_size: int,
    frame_size: tuple[int, int],
    radius: float = 0.11,
    occluders: Sequence[Occluder | None] | None = None,
) -> np.ndarray:
    """RGB uint8 crops (T, S, S, 3), one per frame, centred on ``centres`` (T, 2) frame pixels.

    A crop pixel spans ``scales`` (T,) frame pixels. ``exposure`` (T, 2, 3) holds the ball's
    centre when each frame's exposure opens and closes.
    """
    count, size = len(cameras), int(crop_size)
    centres = np.asarray(centres, dtype=np.float64)
    scales = np.asarray(scales, dtype=np.float64)
    steps = np.arange(size, dtype=np.float32) - (size - 1) / 2
    grid = (
        steps[None, None, :],
        steps[None, :, None],
    )  # crop pixels from the centre, (1, 1, S) and (1, S, 1)
    u = (centres[:, 0, None, None] + grid[0] * scales[:, None, None]).astype(np.float32)  # (T, 1, S)
    v = (centres[:, 1, None, None] + grid[1] * scales[:, None, None]).astype(np.float32)  # (T, S, 1)
    matrices = np.stack([pixel_to_ray_matrix(c) for c in cameras]).astype(np.float32)
    origins = np.stack([c.position for c in cameras]).astype(np.float32)
    ray = [
        matrices[:, i, 0, None, None] * u + matrices[:, i, 1, None, None] * v + matrices[:, i, 2, None, None]
        for i in range(3)
    ]
    hits = ray[2] > 1e-6
    depth = -origins[:, 2, None, None] / np.where(hits, ray[2], np.float32(1))
    x = origins[:, 0, None, None] + depth * ray[0]
    y = origins[:, 1, None, None] + depth * ray[1]
    hits &= depth < 2000
    x, y = np.where(hits, x, 0).astype(np.float32), np.where(hits, y, 0).astype(np.float32)

    # colour = palette[surface] * base + white * light, composed in one channel until the end
    surface, base = _background(scene, x, y, hits)
    xi, xj = np.gradient(x, axis=(1, 2))
    yi, yj = np.gradient(y, axis=(1, 2))
    paint = _paint_markings(x, y, hits, (xj, yj, xi, yi))
    light = np.float32(scene.line_brightness) * paint
    base *= 1 - paint
    if scene.shadow_strength > 0:
        shade = 1 - np.float32(scene.shadow_strength) * _shadow(
            scene, x, y, hits, exposure.mean(axis=1), radius
        )
        base *= shade
        light *= shade
    coverage, shading = _ball_coverage(cameras, centres, scales, exposure, radius, grid)
    base *= 1 - coverage
    light *= 1 - coverage
    image = scene.palette[surface] * base[..., None] + light[..., None]
    image += scene.ball_rgb.astype(np.float32) * (shading * coverage)[..., None]
    for t, occluder in enumerate(occluders or []):
        if occluder is not None:
            cover = _occluder_coverage(occluder, centres[t], (grid[0][0], grid[1][0]), scales[t])[..., None]
            image[t] = image[t] * (1 - cover) + np.asarray(occluder.rgb, np.float32) * cover
    width, height = frame_size
    inside = (u >= -0.5) & (u < width - 0.5) & (v >= -0.5) & (v < height - 0.5)
    image *= inside[..., None]

    for t in range(count):
        image[t] = cv2.GaussianBlur(image[t], (0, 0), scene.blur_px / scales[t])
    noise = np.frombuffer(rng.bytes(image.size), np.int8).reshape(image.shape)
    image += noise * np.float32(scene.noise_level / 73.9)  # uniform bytes: std 73.9
    return cv2.convertScaleAbs(image.reshape(count * size, size * 3)).reshape(count, size, size, 3)
