"""ball3d on your clip: the ball's 3-D position in every frame, from the frames, the cameras and its
pixel track.

The model does not find the ball, nor the camera: it places a ball that a detector found
along the viewing ray of a calibrated camera (:mod:`colab_utils.models.ball3d.network`). So per
frame it needs three things, and only the first is in the frames:

* the frames of one short clip (a video, a folder of frames, a list; :mod:`.inputs`), at the
  trained frame rate (``payload["meta"]["fps"]``: 25 fps; for a 50 fps video pass ``every=2``).
  Around the ball a crop is cut as training cut it: a fixed number of radii of a ball lying on
  the ground there, so its scale follows the camera and the distance;
* ``cameras``: each frame's camera in SoccerNet's JSON format (:class:`~colab_utils.geometry.camera.Camera`),
  as the calibration models give them: a folder of ``camera_<frame>.json`` files (what their
  ``save()`` writes) or their ``results.json``, the calibration :class:`~.base.Prediction` itself,
  one JSON file or camera for a fixed camera, or a list with one camera per frame. A frame
  without a camera takes the nearest frame's (reported). Cameras made for another frame size
  of the same shape are rescaled (SoccerNet's are 960x540); lens distortion is undone on the track;
* ``track``: the ball's pixel in each frame from a ball detector: a CSV with columns ``u, v``
  (frame pixels; empty where the detector missed it) and optionally ``frame`` (the frame's
  name as predict() names it, e.g. ``clip_000012``, or its 0-based position), else one row per
  frame in order; or an array (frames, 2) with NaN for misses; or a dict frame name -> (u, v).
  Misses are filled by linear interpolation in time, as in training; at least two detections.

The chain from a clip alone::

    calibration = predict("sportlight_hrnet57.pth", "clip.mp4")   # or the homography model
    calibration.save("calibration")              # camera_clip_000000.json ... per frame
    ball = predict("ball3d.pth", "clip.mp4", cameras="calibration", track="ball.csv")

(the same inputs and ``every`` in both calls, so the frames get the same names).

Output: per frame the ball's centre ``x, y, z`` in metres in SoccerNet's pitch frame (origin
at the centre mark, x along the length, y towards the bottom touch line, z down: a ball
lying on the grass has z = -0.11), its ``height`` (m, lowest point above the grass) and the
pixel it reprojects to (``u, v``: the network corrects the track by a few pixels). ``save()``
writes ``<clip>.png`` (height against distance along the ground, and the track seen from
above on the pitch) and ``<clip>.csv`` with the columns ``frame, time_s, x, y, z, height, u,
v, track_u, track_v, detected`` (``time_s`` at the trained frame rate).
"""

from __future__ import annotations

import csv
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from colab_utils.geometry import pitch
from colab_utils.geometry.camera import Camera
from colab_utils.geometry.pitch_plot import draw_markings
from colab_utils.geometry.rays import pixel_to_ray_matrix
from colab_utils.inference.base import Predictor, Result
from colab_utils.inference.inputs import VIDEO_SUFFIXES, Frame, FrameReport, read_frames
from colab_utils.models.ball3d.network import decode
from colab_utils.models.ball3d.picture import COLOURS
from colab_utils.models.ball3d.samples import clip_spec, geometry_features, ground_baseline
from colab_utils.models.ball3d.synthetic.clips import crop_scales, track_ground_depth
from colab_utils.models.ball3d.task import Ball3D

CSV_COLUMNS = ("frame", "time_s", "x", "y", "z", "height", "u", "v", "track_u", "track_v", "detected")
NEEDS_CAMERAS = (
    "ball3d needs the camera of every frame: pass cameras= a folder of camera_<frame>.json files (what a "
    "calibration model's prediction.save() writes), its results.json, the calibration prediction itself, "
    "one SoccerNet camera JSON for a fixed camera, or a list with a camera per frame."
)
NEEDS_TRACK = (
    "ball3d places a ball a detector found: pass track= a CSV with columns u, v (the ball's pixel, empty "
    "where missed) and optionally frame, an array (frames, 2) with NaN for misses, or a dict frame -> (u, v)."
)


# ----------------------------------------------------------------- cameras


def _camera(value: Any, where: str) -> Camera | None:
    if value is None or isinstance(value, Camera):
        return value
    try:
        return Camera.from_json(value)
    except (KeyError, TypeError, IndexError) as error:
        raise ValueError(
            f"{where} is not a SoccerNet camera (pan_degrees, tilt_degrees, roll_degrees, position_meters, "
            f"x_focal_length, y_focal_length, principal_point): {type(error).__name__}: {error}"
        ) from error


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cameras={path} cannot be read as JSON: {error}") from error


def _camera_list(cameras: Any, names: list[str]) -> tuple[list[Any], str]:
    """One camera (or None, or a SoccerNet dict) per frame name, and where they came from."""
    if cameras is None:
        raise ValueError(NEEDS_CAMERAS)
    if isinstance(cameras, str | Path):
        path = Path(cameras).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"cameras={path} does not exist. {NEEDS_CAMERAS}")
        if path.is_dir():
            files = {p.name[len("camera_") : -len(".json")]: p for p in path.glob("camera_*.json")}
            if files:
                found = [_read_json(files[n]) if n in files else None for n in names]
                return found, f"camera_<frame>.json files in {path}"
            if not (path / "results.json").is_file():
                raise ValueError(
                    f"cameras={path} holds no camera_<frame>.json and no results.json. {NEEDS_CAMERAS}"
                )
            path = path / "results.json"
        data = _read_json(path)
        if isinstance(data, dict) and "results" in data:
            table = {str(r.get("name")): r.get("camera") for r in data["results"]}
            return [table.get(n) for n in names], f"the calibration results {path}"
        return [data] * len(names), f"one camera for every frame ({path})"
    if isinstance(cameras, Camera | dict):
        return [cameras] * len(names), "one camera for every frame"
    if hasattr(cameras, "results"):  # a calibration model's Prediction
        table = {r.name: getattr(r, "camera", None) for r in cameras.results}
        return [table.get(n) for n in names], f"the {getattr(cameras, 'model', 'calibration')} prediction"
    if isinstance(cameras, list | tuple):
        if len(cameras) != len(names):
            raise ValueError(f"cameras has {len(cameras)} items for {len(names)} frames: give one per frame.")
        return list(cameras), "the list of cameras"
    raise ValueError(f"cameras= cannot be a {type(cameras).__name__}. {NEEDS_CAMERAS}")


def fit_to_frame(camera: Camera, width: int, height: int) -> Camera:
    """``camera`` in the pixels of a ``width`` x ``height`` frame: rescaled when it was made for another
    size of the same shape (its principal point is the centre of the frame it was made for)."""
    made_w, made_h = 2 * camera.cx, 2 * camera.cy
    if abs(made_w - width) <= 2 and abs(made_h - height) <= 2:
        return camera
    if abs(made_w / made_h - width / height) > 0.01 * width / height:
        raise ValueError(
            f"a camera made for {made_w:.0f}x{made_h:.0f} frames does not fit {width}x{height} frames "
            "(another shape): calibrate these frames (the calibration models' predict)."
        )
    s = width / made_w
    return dataclasses.replace(camera, fx=camera.fx * s, fy=camera.fy * s, cx=camera.cx * s, cy=camera.cy * s)


def frame_cameras(cameras: Any, names: list[str], width: int, height: int) -> tuple[list[Camera], list[str]]:
    """Every frame's camera in its own pixels, and notes on what was filled in or rescaled."""
    listed, source = _camera_list(cameras, names)
    given = [_camera(value, source) for value in listed]
    found = [None if c is None else fit_to_frame(c, width, height) for c in given]
    have = np.flatnonzero([c is not None for c in found])
    if not len(have):
        raise ValueError(
            f"None of the {len(names)} frames ({names[0]} ... {names[-1]}) has a camera in {source}: camera "
            "files are named camera_<frame name>.json after the frames as predict() names them (same inputs, "
            "same every=)."
        )
    notes = []
    if any(c is not None and abs(2 * c.cx - width) > 2 for c in given):
        notes.append(f"cameras rescaled to the {width}x{height} frames")
    missing = [i for i, c in enumerate(found) if c is None]
    for i in missing:
        found[i] = found[int(have[np.argmin(np.abs(have - i))])]
    if missing:
        notes.append(f"{len(missing)} frames without a camera took the nearest frame's")
    return found, notes


def undistort(camera: Camera, points: np.ndarray) -> np.ndarray:
    """Pixels (N, 2) as a distortion-free lens would show them (OpenCV's model, the camera's coefficients)."""
    if not camera.has_distortion:
        return np.asarray(points, dtype=float)
    k = camera.radial
    coefficients = np.concatenate([k[:2], camera.tangential, k[2:], camera.thin_prism])
    moved = cv2.undistortPoints(
        np.asarray(points, np.float64).reshape(-1, 1, 2), camera.K, coefficients, P=camera.K
    )
    return moved.reshape(-1, 2)


def scaled(camera: Camera, factor: float) -> Camera:
    """The camera for frames ``factor`` times as wide, without distortion (the rays ignore it)."""
    return Camera(
        camera.pan,
        camera.tilt,
        camera.roll,
        camera.position,
        camera.fx * factor,
        camera.fy * factor,
        camera.cx * factor,
        camera.cy * factor,
    )


# ----------------------------------------------------------------- the track


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return np.nan


def _by_frame(table: dict[str, Any], names: list[str], where: str) -> np.ndarray:
    """Rows keyed by frame name, or by 0-based position, as (frames, 2) pixels (NaN where absent)."""
    if set(table) <= set(names):
        index = {name: i for i, name in enumerate(names)}
    elif all(key.isdigit() and int(key) < len(names) for key in table):
        index = {key: int(key) for key in table}
    else:
        strangers = sorted(set(table) - set(names))[:3]
        raise ValueError(
            f"{where}: frame {strangers[0]!r} (and maybe more) is neither one of the frames ({names[0]} ... "
            f"{names[-1]}) nor a position 0-{len(names) - 1}."
        )
    track = np.full((len(names), 2), np.nan)
    for key, value in table.items():
        track[index[key]] = [np.nan, np.nan] if value is None else [_number(v) for v in value]
    return track


def frame_track(track: Any, names: list[str]) -> np.ndarray:
    """The ball's pixel (frames, 2) in each frame, NaN where the detector missed it."""
    if track is None:
        raise ValueError(NEEDS_TRACK)
    if isinstance(track, str | Path):
        path = Path(track).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"track={path} is not a file. {NEEDS_TRACK}")
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            rows = list(reader)
        if not {"u", "v"} <= set(columns):
            raise ValueError(f"track={path} has the columns {columns}. {NEEDS_TRACK}")
        if "frame" in columns:
            return _by_frame({row["frame"]: (row["u"], row["v"]) for row in rows}, names, str(path))
        if len(rows) != len(names):
            raise ValueError(
                f"track={path} has {len(rows)} rows for {len(names)} frames and no frame column."
            )
        return np.array([[_number(row["u"]), _number(row["v"])] for row in rows])
    if isinstance(track, dict):
        return _by_frame({str(k): v for k, v in track.items()}, names, "track")
    array = np.asarray(track, dtype=float)
    if array.shape != (len(names), 2):
        raise ValueError(
            f"track has shape {array.shape} for {len(names)} frames: give (frames, 2). {NEEDS_TRACK}"
        )
    return array


def fill_track(track: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(filled track, detected): misses interpolated linearly in time, as the training clips' tracks."""
    detected = np.isfinite(track).all(axis=1)
    if detected.sum() < 2:
        raise ValueError(
            f"the track has {int(detected.sum())} detections in {len(track)} frames: give at least two."
        )
    frames = np.arange(len(track))
    filled = np.column_stack([np.interp(frames, frames[detected], track[detected, i]) for i in range(2)])
    return filled, detected


# ----------------------------------------------------------------- crops and the network's inputs


def cut_crop(image: np.ndarray, centre: np.ndarray, scale: float, size: int) -> np.ndarray:
    """The (size, size, 3) crop centred on ``centre`` (frame pixels), ``scale`` frame pixels per crop
    pixel, black outside the frame, as the training crops are laid out (crop pixel i sits at
    ``centre + (i - (size - 1) / 2) * scale``). Shrinking blurs first (Gaussian, sigma (scale - 1) / 2)."""
    offset = (size - 1) / 2
    sigma = max(0.0, (scale - 1) / 2)
    reach = offset * scale + 3 * sigma + 2
    height, width = image.shape[:2]
    x0, y0 = (max(0, int(np.floor(c - reach))) for c in centre)
    x1, y1 = min(width, int(np.ceil(centre[0] + reach)) + 1), min(height, int(np.ceil(centre[1] + reach)) + 1)
    if x1 <= x0 or y1 <= y0:
        return np.zeros((size, size, 3), np.uint8)
    region = image[y0:y1, x0:x1]
    if sigma > 0:
        region = cv2.GaussianBlur(region, (0, 0), sigma)
    to_region = np.array(
        [[scale, 0, centre[0] - offset * scale - x0], [0, scale, centre[1] - offset * scale - y0]]
    )
    return cv2.warpAffine(
        region,
        to_region,
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


@dataclass
class Observation:
    """A clip as the model's geometry sees it, in the trained frame's pixels (the fields
    :func:`~colab_utils.models.ball3d.samples.geometry_features` and ``ground_baseline`` read)."""

    cameras: list[Camera]
    track: np.ndarray
    detected: np.ndarray
    ground_depth: np.ndarray
    crop_scales: np.ndarray


@dataclass
class Clip:
    """A clip ready for the network: frames, their cameras (frame pixels), the filled track (frame
    pixels), which frames had a detection, the observation and the network's inputs (a batch of one)."""

    frames: list[Frame]
    cameras: list[Camera]
    track: np.ndarray
    detected: np.ndarray
    observation: Observation
    inputs: dict[str, torch.Tensor]
    notes: list[str]


def network_inputs(observation: Observation, crops: np.ndarray, spec: Any) -> dict[str, torch.Tensor]:
    """A batch of one clip, as :class:`~colab_utils.models.ball3d.samples.BallClips` makes it in training."""
    cameras = observation.cameras
    arrays = {
        "crops": np.ascontiguousarray(crops.transpose(0, 3, 1, 2)),
        "geometry": geometry_features(observation, spec),
        "origin": np.stack([c.position for c in cameras]).astype(np.float32),
        "rays": np.stack([pixel_to_ray_matrix(c) for c in cameras]).astype(np.float32),
        "track": observation.track.astype(np.float32),
        "ground_depth": observation.ground_depth.astype(np.float32),
        "crop_scale": observation.crop_scales.astype(np.float32),
    }
    return {key: torch.from_numpy(value)[None] for key, value in arrays.items()}


# ----------------------------------------------------------------- the result


@dataclass
class BallTrackResult(Result):
    """The clip's 3-D track (frames, 3) in metres, the pixels it reprojects to and what it came from."""

    name: str
    source: str
    frames: list[str]
    fps: float
    positions: np.ndarray
    ground: np.ndarray  # the ball on the ground where the track's ray meets it (the baseline)
    uv: np.ndarray
    track: np.ndarray  # frame pixels, misses filled
    detected: np.ndarray
    camera_positions: np.ndarray
    radius: float
    notes: list[str]
    found: bool = True

    @property
    def heights(self) -> np.ndarray:
        return -self.positions[:, 2] - self.radius

    def along(self) -> np.ndarray:
        """Distance travelled along the ground (m) from the first frame."""
        steps = np.linalg.norm(np.diff(self.positions[:, :2], axis=0), axis=1)
        return np.concatenate([[0.0], np.cumsum(steps)])

    def summary(self) -> str:
        top = int(np.argmax(self.heights))
        text = (
            f"{self.name}: {len(self.frames)} frames ({len(self.frames) / self.fps:.2f} s), ball detected in "
            f"{int(self.detected.sum())}; highest {self.heights[top]:.2f} m ({self.frames[top]}), "
            f"{self.along()[-1]:.1f} m along the ground"
        )
        return "; ".join([text, *self.notes])

    def figure(self) -> Any:
        import matplotlib.pyplot as plt

        figure, (side, top) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1, 1.3]})
        along, heights, missed = self.along(), self.heights, ~self.detected
        side.axhline(0.0, color="#9bbf9b", linewidth=1.0, label="the grass")
        side.plot(along, heights, color=COLOURS["model"], marker=".", label="ball3d")
        if missed.any():
            side.scatter(
                along[missed], heights[missed], marker="x", color="#888888", label="no detection (filled)"
            )
        side.set_xlabel("distance along the ground from the first frame (m)")
        side.set_ylabel("height of the ball (m)")
        side.set_ylim(min(-0.2, heights.min() - 0.2), max(1.0, 1.15 * heights.max()))
        side.legend(loc="best", fontsize=8)
        side.grid(alpha=0.3)

        draw_markings(top)
        top.plot(
            *self.ground[:, :2].T, "--", color=COLOURS["baseline"], linewidth=1.2, label="if on the ground"
        )
        top.plot(*self.positions[:, :2].T, color=COLOURS["model"], linewidth=1.6, label="ball3d")
        top.scatter(*self.positions[0, :2], color=COLOURS["model"], s=16)
        cameras = np.unique(self.camera_positions.round(1), axis=0)
        top.scatter(cameras[:, 0], cameras[:, 1], marker="^", color="black", s=40, label="camera")
        shown = np.concatenate([self.positions[:, :2], self.ground[:, :2], cameras[:, :2]])
        low = np.minimum(shown.min(axis=0), [-pitch.HALF_L, -pitch.HALF_W]) - 3
        high = np.maximum(shown.max(axis=0), [pitch.HALF_L, pitch.HALF_W]) + 3
        top.set_xlim(low[0], high[0])
        top.set_ylim(high[1], low[1])  # y grows towards the bottom touch line, as in the broadcast view
        top.set_aspect("equal")
        top.set_xlabel("x (m)")
        top.set_ylabel("y (m)")
        top.legend(loc="upper right", fontsize=8)
        figure.suptitle(self.summary(), fontsize=9)
        figure.tight_layout()
        return figure

    def rows(self) -> list[list[Any]]:
        rows = []
        for i, name in enumerate(self.frames):
            x, y, z = (round(float(v), 3) for v in self.positions[i])
            pixels = [round(float(v), 2) for v in (*self.uv[i], *self.track[i])]
            rows.append([name, round(i / self.fps, 3), x, y, z, round(float(self.heights[i]), 3), *pixels])
            rows[-1].append(int(self.detected[i]))
        return rows

    def save(self, folder: Path) -> list[Path]:
        return [self.save_picture(folder), self.save_table(folder, CSV_COLUMNS, self.rows())]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "fps": self.fps,
            "notes": self.notes,
            "frames": [dict(zip(CSV_COLUMNS, row, strict=True)) for row in self.rows()],
        }


# ----------------------------------------------------------------- the predictor


def clip_name(frame: Frame) -> str:
    """The clip's name from its first frame: the video's, or the folder's of image files."""
    if " frame " in frame.source:
        return Path(frame.source.rsplit(" frame ", 1)[0]).stem
    path = Path(frame.source)
    return path.parent.name if path.is_file() and path.parent.name else "clip"


def _video_fps(inputs: Any) -> tuple[str, float] | None:
    """(name, frames per second) of the first video among the inputs, if any says its rate."""
    items = inputs if isinstance(inputs, list | tuple) else [inputs]
    for item in items:
        if isinstance(item, str | Path) and Path(item).suffix.lower() in VIDEO_SUFFIXES:
            capture = cv2.VideoCapture(str(item))
            fps = capture.get(cv2.CAP_PROP_FPS)
            capture.release()
            if fps > 0:
                return Path(item).name, float(fps)
    return None


class BallTrack3D(Predictor):
    """Options: ``cameras`` and ``track`` (required; see the module docstring)."""

    task_class = Ball3D

    found_label = "with a 3-D track"

    def __init__(
        self, payload: dict[str, Any], device: str | torch.device, cameras: Any = None, track: Any = None
    ) -> None:
        if cameras is None:
            raise ValueError(NEEDS_CAMERAS)
        if track is None:
            raise ValueError(NEEDS_TRACK)
        super().__init__(payload, device)
        self.cameras, self.track = cameras, track
        self.spec = clip_spec(self.cfg)

    def read(self, inputs: Any, every: int = 1, max_frames: int = 100) -> FrameReport:
        report = read_frames(inputs, every, max_frames)
        video = _video_fps(inputs)
        if video and abs(video[1] / every / self.spec.fps - 1) > 0.1:
            name, fps = video
            better = max(1, round(fps / self.spec.fps))
            report.notes.append(
                f"{name} runs at {fps:g} fps, so frames are {every / fps:.3f} s apart; the model was trained "
                f"at {self.spec.fps:g} fps: predict with every={better} for its speeds and heights to hold."
            )
        return report

    def clip(self, frames: list[Frame]) -> Clip:
        """The clip's frames with their cameras and track, and the network's inputs made from them."""
        sizes = sorted({frame.size for frame in frames})
        if len(sizes) != 1:
            raise ValueError(
                f"the clip's frames have {len(sizes)} sizes ({sizes}): give the frames of one clip."
            )
        if len(frames) < 2:
            raise ValueError("ball3d reads a clip: give at least two frames (a video, a folder, a list).")
        (width, height), names = sizes[0], [frame.name for frame in frames]
        cameras, notes = frame_cameras(self.cameras, names, width, height)
        track, detected = fill_track(frame_track(self.track, names))
        factor = self.spec.frame_size[0] / width  # the network's geometry is in the trained frame's pixels
        seen = [scaled(camera, factor) for camera in cameras]
        rays_track = (
            np.concatenate([undistort(c, p[None]) for c, p in zip(cameras, track, strict=True)]) * factor
        )
        ground_depth = track_ground_depth(seen, rays_track, self.spec.params.radius)
        scales = crop_scales(np.array([c.fx for c in seen]), ground_depth, self.spec)
        observation = Observation(seen, rays_track, detected, ground_depth, scales)
        size = self.spec.crop_size
        crops = np.stack(
            [cut_crop(f.image, p, s / factor, size) for f, p, s in zip(frames, track, scales, strict=True)]
        )
        spec = dataclasses.replace(self.spec, frame_size=(self.spec.frame_size[0], round(height * factor)))
        inputs = network_inputs(observation, crops, spec)
        return Clip(frames, cameras, track, detected, observation, inputs, notes)

    def run(self, frames: list[Frame]) -> list[BallTrackResult]:
        clip = self.clip(frames)
        inputs = {key: value.to(self.device) for key, value in clip.inputs.items()}
        with torch.no_grad(), self.autocast():
            raw = self.model.get_nn_module()(inputs["crops"], inputs["geometry"])
        positions = decode(raw, inputs)["position"][0].cpu().numpy().astype(np.float64)
        uv = np.concatenate([c.project(p[None])[0] for c, p in zip(clip.cameras, positions, strict=True)])
        result = BallTrackResult(
            clip_name(frames[0]),
            frames[0].source.rsplit(" frame ", 1)[0],
            [frame.name for frame in frames],
            self.spec.fps,
            positions,
            ground_baseline(clip.observation),
            uv,
            clip.track,
            clip.detected,
            np.stack([c.position for c in clip.cameras]),
            self.spec.params.radius,
            clip.notes,
        )
        return [result]
