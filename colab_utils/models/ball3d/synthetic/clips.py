"""A ball3d training clip: T broadcast frames at 25 fps of a simulated play, seen by a camera
drawn like the calibration generator's, with what a ball detector would report.

How a clip is made, all from one random generator (so a clip is a pure function of its seed):

1. a broadcast camera from :func:`~colab_utils.synthetic.cameras.random_camera` (same
   kinds and distribution as the calibration frames), at the broadcast size;
2. a random play (:mod:`ball_plays`), cut to a window of T frames that starts up to
   ``max_start_s`` into it (so clips begin before the kick, in flight or while rolling);
3. the play is turned to a random heading and moved so that the ball at the window's start
   is seen near the image centre; plays that would leave the pitch's surroundings or come
   within 5 m of the camera are drawn again;
4. the camera operator follows the ball: pan and tilt aim, with a first-order lag, at the
   ball; position, focal length and roll stay those of the drawn camera;
5. the detector: the ball's true pixel plus Gaussian noise (0.5 px + 15 % of the ball's
   radius in pixels), missed at random (5 %), when occluded or outside the frame; the
   track fills misses by linear interpolation of the detections in time;
6. crops around the track, rendered with :mod:`ball_crops`: shadow, size by distance,
   motion blur over the exposure, and in a quarter of the clips a player passing in front
   of the ball for 3-10 frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from colab_utils.geometry import pitch as P
from colab_utils.geometry.camera import Camera
from colab_utils.geometry.rays import pixel_rays, plane_depth
from colab_utils.models.ball3d.synthetic.crops import Occluder, random_scene, render_crops
from colab_utils.models.ball3d.synthetic.physics import BallParams
from colab_utils.models.ball3d.synthetic.plays import random_play
from colab_utils.synthetic.cameras import random_camera

PLAYER_HEIGHT_M = 1.85
MIN_CAMERA_DISTANCE_M = 5.0
AREA_MARGIN_M = 5.0  # how far beyond the touch and goal lines a ball may go


@dataclass(frozen=True)
class ClipSpec:
    """How clips are made; the defaults are the ball3d recipe's."""

    frames: int = 48
    fps: float = 25.0
    frame_size: tuple[int, int] = (1920, 1080)
    crop_size: int = 64
    crop_ball_radii: float = 16.0  # a crop spans this many radii of a ball lying on the ground there
    detection_noise_px: float = 0.5
    detection_noise_relative: float = 0.15  # extra noise per pixel of ball radius
    miss_rate: float = 0.05
    occlusion_rate: float = 0.25
    shutter_s: tuple[float, float] = (1 / 250, 1 / 50)
    max_start_s: float = 1.5
    follow_lag_s: tuple[float, float] = (0.1, 0.5)
    params: BallParams = field(default_factory=BallParams)
    camera_mix: dict[str, float] | None = None
    play_mix: dict[str, float] | None = None


@dataclass
class BallClip:
    """One clip's ground truth, what the detector saw and the crops (all per frame)."""

    play: str
    camera_kind: str
    times: np.ndarray  # (T,) seconds from the play's start
    positions: np.ndarray  # (T, 3) ball centre, world metres (z down)
    velocities: np.ndarray  # (T, 3)
    labels: np.ndarray  # (T,) FLIGHT / BOUNCE / ROLL / TOUCH
    cameras: list[Camera]
    uv: np.ndarray  # (T, 2) true pixel of the ball's centre
    detected: np.ndarray  # (T,) bool
    visible: np.ndarray  # (T,) bool: inside the frame and not occluded
    track: np.ndarray  # (T, 2) detections, interpolated where missed: where the crops are centred
    ground_depth: np.ndarray  # (T,) distance along the track's ray to a ball lying on the ground
    crop_scales: np.ndarray  # (T,) frame pixels per crop pixel
    crops: np.ndarray  # (T, S, S, 3) uint8 RGB


def follow(camera: Camera, targets: np.ndarray, lag_s: float, fps: float) -> list[Camera]:
    """Per-frame cameras whose aim point follows ``targets`` (T, 3) with a first-order lag."""
    centre_ray = pixel_rays(camera, np.array([[camera.cx, camera.cy]]))[0]
    aim = camera.position + centre_ray * (-camera.position[2] / centre_ray[2])
    alpha = 1 - math.exp(-1 / (fps * lag_s))
    cameras = []
    for target in targets:
        aim = aim + alpha * (target - aim)
        w = (aim - camera.position) / np.linalg.norm(aim - camera.position)
        pan, tilt = math.degrees(math.atan2(w[0], -w[1])), math.degrees(math.acos(np.clip(w[2], -1, 1)))
        cameras.append(
            Camera(pan, tilt, camera.roll, camera.position, camera.fx, camera.fy, camera.cx, camera.cy)
        )
    return cameras


def project_each(cameras: list[Camera], points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel (T, 2) and depth (T,) of point t seen by camera t."""
    projected = [camera.project(point[None]) for camera, point in zip(cameras, points, strict=True)]
    return np.concatenate([uv for uv, _ in projected]), np.concatenate([d for _, d in projected])


def _rotation_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _occlusion(
    rng: np.random.Generator, spec: ClipSpec, uv: np.ndarray, depth: np.ndarray, focal: float
) -> tuple[np.ndarray, list[Occluder | None]]:
    """Which frames a passing player hides the ball in, and the player's ellipse per frame."""
    count = spec.frames
    occluded = np.zeros(count, bool)
    occluders: list[Occluder | None] = [None] * count
    if rng.random() >= spec.occlusion_rate:
        return occluded, occluders
    first, length = int(rng.integers(0, count)), int(rng.integers(3, 11))
    rgb = tuple(float(c) for c in rng.uniform(0, 255, 3))
    height_scale, drift = rng.uniform(0.9, 1.1), rng.uniform(-0.25, 0.25)
    frames = range(first, min(first + length, count))
    for step, t in enumerate(frames):
        size = focal * PLAYER_HEIGHT_M * height_scale / max(depth[t], 0.1)  # the player's height in pixels
        half_width = 0.14 * size
        passing = (step + 0.5) / len(frames) - 0.5  # -0.5 .. 0.5 across the occlusion
        centre = (uv[t, 0] + passing * 1.2 * half_width, uv[t, 1] + drift * size)
        occluders[t] = Occluder(centre, (half_width, size / 2), 0.0, rgb)
        occluded[t] = True
    return occluded, occluders


def track_ground_depth(cameras: list[Camera], track: np.ndarray, radius: float) -> np.ndarray:
    """Per frame: how far along the ray through the track a ball lying on the ground would be."""
    rays = np.concatenate([pixel_rays(c, uv[None]) for c, uv in zip(cameras, track, strict=True)])
    origins = np.stack([c.position for c in cameras])
    return plane_depth(origins, rays, -radius)


def crop_scales(focal: float, ground_depth: np.ndarray, spec: ClipSpec) -> np.ndarray:
    """Frame pixels per crop pixel: a ball on the ground spans the same share of every crop.

    A ball in the air is nearer than the ground point behind it, so it looks bigger than
    that: the ratio is a direct cue to its height.
    """
    ground_radius_px = focal * spec.params.radius / ground_depth
    return np.clip(spec.crop_ball_radii * ground_radius_px / spec.crop_size, 0.125, 16.0)


def _interpolate_track(detections: np.ndarray, detected: np.ndarray) -> np.ndarray:
    frames = np.arange(len(detections))
    return np.column_stack([np.interp(frames, frames[detected], detections[detected, i]) for i in range(2)])


def _place(
    rng: np.random.Generator, camera: Camera, local: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """(positions, rotation): the play turned and moved so that its start is seen near the image centre."""
    heading = rng.uniform(0, 2 * math.pi)
    pixel = np.array([[width * (0.5 + rng.uniform(-0.3, 0.3)), height * (0.5 + rng.uniform(-0.3, 0.3))]])
    ray = pixel_rays(camera, pixel)[0]
    if abs(ray[2]) < 1e-6:
        return None
    depth = (local[0, 2] - camera.position[2]) / ray[2]
    if not 0 < depth < 150:
        return None
    start = camera.position + depth * ray
    rotation = _rotation_z(heading)
    world = (local - local[0]) @ rotation.T + start
    inside = (np.abs(world[:, 0]) < P.HALF_L + AREA_MARGIN_M) & (
        np.abs(world[:, 1]) < P.HALF_W + AREA_MARGIN_M
    )
    far = np.linalg.norm(world - camera.position, axis=1) > MIN_CAMERA_DISTANCE_M
    return (world, rotation) if inside.all() and far.all() else None


def make_clip(rng: np.random.Generator, spec: ClipSpec | None = None) -> BallClip:
    """One clip, drawn from ``rng`` alone: the same generator state gives the same clip."""
    spec = spec or ClipSpec()
    width, height = spec.frame_size
    count = spec.frames
    for _ in range(100):
        camera, camera_kind = random_camera(rng, mix=spec.camera_mix, width=width, height=height)
        start = rng.uniform(0, spec.max_start_s)
        shutter = rng.uniform(*spec.shutter_s)
        lag = rng.uniform(*spec.follow_lag_s)
        times = start + np.arange(count) / spec.fps
        play, trajectory = random_play(rng, times[-1] + spec.shutter_s[1], spec.params, spec.play_mix)
        exposure = (times[:, None] + shutter * np.array([[-0.5, 0.5]])).clip(0, None)
        local, local_velocity = trajectory.state_at(np.concatenate([times, exposure.ravel()]))
        for _ in range(12):
            placed = _place(rng, camera, local, width, height)
            if placed is not None:
                break
        else:
            continue
        world, rotation = placed
        positions, blurred = world[:count], world[count:].reshape(count, 2, 3)
        cameras = follow(camera, positions, lag, spec.fps)
        uv, depth = project_each(cameras, positions)
        in_frame = (
            (depth > 0)
            & (uv[:, 0] >= 0)
            & (uv[:, 0] <= width - 1)
            & (uv[:, 1] >= 0)
            & (uv[:, 1] <= height - 1)
        )
        occluded, occluders = _occlusion(rng, spec, uv, depth, camera.fx)
        missed = rng.random(count) < spec.miss_rate
        visible = in_frame & ~occluded
        detected = visible & ~missed
        if detected.sum() < 2:
            continue
        radius_px = camera.fx * spec.params.radius / np.maximum(depth, 0.1)
        sigma = spec.detection_noise_px + spec.detection_noise_relative * radius_px
        detections = uv + rng.standard_normal((count, 2)) * sigma[:, None]
        track = _interpolate_track(detections, detected)
        ground_depth = track_ground_depth(cameras, track, spec.params.radius)
        scales = crop_scales(camera.fx, ground_depth, spec)
        scene = random_scene(rng)
        crops = render_crops(
            scene,
            cameras,
            track,
            scales,
            blurred,
            rng,
            spec.crop_size,
            spec.frame_size,
            spec.params.radius,
            occluders,
        )
        return BallClip(
            play=play,
            camera_kind=camera_kind,
            times=times,
            positions=positions,
            velocities=local_velocity[:count] @ rotation.T,
            labels=trajectory.labels(times),
            cameras=cameras,
            uv=uv,
            detected=detected,
            visible=visible,
            track=track,
            ground_depth=ground_depth,
            crop_scales=scales,
            crops=crops,
        )
    raise RuntimeError("could not place a play in view of a camera in 100 attempts")
