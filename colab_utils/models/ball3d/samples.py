"""ball3d samples: a synthetic clip, computed from its index, as the network's tensors.

Clip ``i`` of a split is generated from the seed sequence (``data.content_seed``, split, i),
so it is the same clip in every epoch, on every worker and after a resume. Rendering a clip
costs a core ~90 ms, 20x what a T4 allows, so training reads the clips the data step rendered
once into shards (:mod:`colab_utils.models.ball3d.shards`); without shards they are rendered
when loaded. Training and validation clips come from different split numbers, so validation
is held out. The engine's per-sample ``rng`` is used only for training-time augmentation
(colour and contrast jitter of the crops).

Per frame the network gets the crop and a geometry vector (:data:`GEOMETRY_FEATURES`); the
decoding of its output needs the camera's position, the pixel-to-ray matrix, the track
point, the ground depth and the crop scale, which travel with the inputs.
"""

from __future__ import annotations

from typing import Any, Protocol

import cv2
import numpy as np
import torch
from omegaconf import DictConfig

from colab_utils.engine.contract import SampleDataset
from colab_utils.geometry.rays import MAX_DEPTH_M, pixel_rays, pixel_to_ray_matrix
from colab_utils.models.ball3d.synthetic.clips import BallClip, ClipSpec, make_clip
from colab_utils.models.ball3d.synthetic.physics import BallParams

SPLITS = {"train": 0, "valid": 1}
DEPTH_UNIT_M = 50.0
GEOMETRY_FEATURES = (
    "track_u",  # track point, -1..1 across the frame
    "track_v",
    "detected",  # 1 where the detector saw the ball, 0 where the track is interpolated
    "ray_x",  # unit ray through the track point, world frame
    "ray_y",
    "ray_z",
    "camera_x",  # camera position / 50 m
    "camera_y",
    "camera_z",
    "log_ground_depth",  # log(depth where the ray meets the ground / 50 m)
    "ray_hits_ground",  # 0 for rays above the horizon (or beyond 200 m)
    "log_zoom",  # log(focal length / frame width)
    "log_crop_scale",  # log(frame pixels per crop pixel)
)


def clip_spec(cfg: DictConfig) -> ClipSpec:
    """The clip generator's settings from the config's ``data`` section."""
    data = cfg.data
    return ClipSpec(
        frames=int(data.frames),
        fps=float(data.fps),
        frame_size=(int(data.frame_size[0]), int(data.frame_size[1])),
        crop_size=int(data.crop_size),
        crop_ball_radii=float(data.crop_ball_radii),
        detection_noise_px=float(data.detection_noise_px),
        miss_rate=float(data.miss_rate),
        occlusion_rate=float(data.occlusion_rate),
        params=BallParams(),
    )


def track_rays(clip: BallClip) -> np.ndarray:
    """Unit rays (T, 3) through each frame's track point."""
    return np.concatenate([pixel_rays(c, uv[None]) for c, uv in zip(clip.cameras, clip.track, strict=True)])


def ground_baseline(clip: BallClip) -> np.ndarray:
    """The "ball on the ground" answer (T, 3): the track's ray meets the plane of a resting ball's centre."""
    origins = np.stack([c.position for c in clip.cameras])
    return origins + clip.ground_depth[:, None] * track_rays(clip)


def geometry_features(clip: BallClip, spec: ClipSpec) -> np.ndarray:
    """(T, F) float32 in the order of :data:`GEOMETRY_FEATURES`."""
    width, height = spec.frame_size
    origins = np.stack([c.position for c in clip.cameras])
    focal = np.array([c.fx for c in clip.cameras])
    return np.column_stack(
        [
            clip.track[:, 0] / width * 2 - 1,
            clip.track[:, 1] / height * 2 - 1,
            clip.detected,
            track_rays(clip),
            origins / DEPTH_UNIT_M,
            np.log(clip.ground_depth / DEPTH_UNIT_M),
            clip.ground_depth < MAX_DEPTH_M,
            np.log(focal / width),
            np.log(clip.crop_scales),
        ]
    ).astype(np.float32)


def jitter_table(crops: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour and contrast jitter of a clip's crops (one draw per clip: a camera's look), as a
    (1, 256, 3) lookup table: the jitter is affine per channel, so ``cv2.LUT`` applies it in one pass."""
    gain = rng.uniform(0.75, 1.25) * rng.uniform(0.93, 1.07, 3)
    mean = np.asarray(cv2.mean(crops.reshape(-1, crops.shape[-2], 3))[:3])
    contrast = rng.uniform(0.8, 1.2)
    offset = rng.uniform(-12, 12)
    levels = np.arange(256, dtype=np.float64)[:, None]
    table = ((levels - mean) * contrast + mean) * gain + offset
    return np.clip(table, 0, 255).astype(np.uint8)[None]


def jitter(crops: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``crops`` (T, S, S, 3) uint8 with the clip's colour and contrast jitter applied."""
    flat = crops.reshape(-1, crops.shape[-2], 3)
    return cv2.LUT(flat, jitter_table(crops, rng)).reshape(crops.shape)


def clip_arrays(clip: BallClip, spec: ClipSpec) -> dict[str, np.ndarray]:
    """Everything a sample holds but the crops, as the arrays the network's tensors are made of."""
    return {
        "geometry": geometry_features(clip, spec),
        "origin": np.stack([c.position for c in clip.cameras]).astype(np.float32),
        "rays": np.stack([pixel_to_ray_matrix(c) for c in clip.cameras]).astype(np.float32),
        "track": clip.track.astype(np.float32),
        "ground_depth": clip.ground_depth.astype(np.float32),
        "crop_scale": clip.crop_scales.astype(np.float32),
        "position": clip.positions.astype(np.float32),
        "uv": clip.uv.astype(np.float32),
        "visible": clip.visible,
        "detected": clip.detected,
        "labels": clip.labels.astype(np.int64),
        "baseline": ground_baseline(clip).astype(np.float32),
    }


INPUTS = ("geometry", "origin", "rays", "track", "ground_depth", "crop_scale")
TARGETS = ("position", "uv", "visible", "detected", "labels", "baseline")


def sample_tensors(crops: np.ndarray, arrays: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """``(inputs, target)`` of one clip from its crops (T, S, S, 3) and :func:`clip_arrays`."""
    inputs = {"crops": torch.from_numpy(np.ascontiguousarray(crops.transpose(0, 3, 1, 2)))}
    inputs.update({name: torch.from_numpy(np.array(arrays[name])) for name in INPUTS})
    return inputs, {name: torch.from_numpy(np.array(arrays[name])) for name in TARGETS}


class RenderedClips(Protocol):
    """Clips rendered ahead of time (:class:`colab_utils.models.ball3d.shards.ClipShards`)."""

    def read(self, index: int) -> tuple[np.ndarray, dict[str, np.ndarray]]: ...


class BallClips(SampleDataset):
    """``size`` clips of one split; sample i is ``(inputs, target)`` dictionaries of tensors.

    With ``shards`` (rendered once by :mod:`colab_utils.models.ball3d.shards`) a sample is read
    from disk; without, it is rendered when loaded.
    """

    def __init__(
        self,
        spec: ClipSpec,
        size: int,
        content_seed: int,
        split: str,
        augment: bool = False,
        shards: RenderedClips | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
        self.spec = spec
        self.size = int(size)
        self.content_seed = int(content_seed)
        self.split = split
        self.augment = augment
        self.shards = shards

    def __len__(self) -> int:
        return self.size

    def clip(self, index: int) -> BallClip:
        """Clip ``index``: a pure function of (content seed, split, index)."""
        seed = np.random.SeedSequence([self.content_seed, SPLITS[self.split], int(index)])
        return make_clip(np.random.default_rng(seed), self.spec)

    def get(self, index: int, rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
        if self.shards is not None:
            crops, arrays = self.shards.read(index)
        else:
            clip = self.clip(index)
            crops, arrays = clip.crops, clip_arrays(clip, self.spec)
        return sample_tensors(jitter(crops, rng) if self.augment else crops, arrays)
