"""Frames of broadcast clips as detection samples: image + class labels + boxes in DETR's format.

A SoccerNet clip has 750 frames, 25 a second, so neighbours are near copies. An epoch does
not read every frame: each clip gives ``frames_per_clip`` samples, sample ``s`` being a frame
of the ``s``-th of as many equal stretches of the clip, drawn from the sample's random
generator (a different frame each epoch, the same one after a resume); validation takes the
middle frame of each stretch, so it always sees the same frames. Frames are separate JPEGs,
so only the sampled ones are read, and when the network's input is half the frame's size or
less the JPEG is decoded at a half, quarter or eighth of its size directly (libjpeg scales
while decoding), which is several times cheaper than decoding 1920x1080 and resizing.

Boxes become DETR's targets: ``class_labels`` (index into :data:`CLASSES`) and ``boxes`` as
(centre x, centre y, width, height) divided by the input size. Roles that are not classes
(SoccerNet's "other": staff, spectators) are left out and counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import albumentations as A
import cv2
import numpy as np
import torch

from colab_utils.engine.contract import SampleDataset
from colab_utils.models.detr.mot import Clip

CLASSES = ("player", "goalkeeper", "referee", "ball")
_REDUCED = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2))


@dataclass(frozen=True)
class ClipFrames:
    """What the dataset keeps of a clip: its frames' image paths and boxes (x0, y0, x1, y1, frame px)."""

    name: str
    frame_size: tuple[int, int]  # width, height
    frames: np.ndarray  # (F,) frame numbers, sorted
    paths: tuple[str, ...]
    boxes: tuple[np.ndarray, ...]  # per frame (N, 4) float32
    labels: tuple[np.ndarray, ...]  # per frame (N,) int64 index into CLASSES
    track_ids: tuple[np.ndarray, ...]  # per frame (N,) int64


def clip_frames(clip: Clip, skipped: Counter[str]) -> ClipFrames:
    """The detection view of a clip; boxes of roles outside :data:`CLASSES` are counted in ``skipped``."""
    width, height = clip.info.width, clip.info.height
    frames = sorted(clip.frames)
    boxes, labels, ids = [], [], []
    for frame in frames:
        found = clip.frames[frame]
        roles = clip.roles(frame)
        keep = np.array([role in CLASSES for role in roles], dtype=bool)
        skipped.update(role for role in roles if role not in CLASSES)
        xywh = found.boxes[keep]
        xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        xyxy = np.clip(xyxy, 0, [width, height, width, height]).astype(np.float32)
        boxes.append(xyxy)
        labels.append(
            np.array([CLASSES.index(r) for r, k in zip(roles, keep, strict=True) if k], dtype=np.int64)
        )
        ids.append(found.track_ids[keep].astype(np.int64))
    paths = tuple(str(clip.image_path(frame)) for frame in frames)
    return ClipFrames(
        clip.name, (width, height), np.array(frames), paths, tuple(boxes), tuple(labels), tuple(ids)
    )


def augmentations(input_size: Sequence[int], train: bool) -> A.Compose:
    """Resize to the input size; for training, DETR's flips and scale jitter plus broadcast-like noise."""
    width, height = (int(v) for v in input_size)
    steps: list = [A.Resize(height=height, width=width, interpolation=cv2.INTER_AREA)]
    if train:
        steps += [
            A.HorizontalFlip(p=0.5),
            A.Affine(
                scale=(0.75, 1.25), translate_percent=(-0.05, 0.05), p=0.5, border_mode=cv2.BORDER_CONSTANT
            ),
            A.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.03, p=0.8),
            A.OneOf([A.GaussNoise(std_range=(0.02, 0.06)), A.ISONoise()], p=0.2),
            A.OneOf([A.MotionBlur(blur_limit=5), A.GaussianBlur(blur_limit=(3, 5))], p=0.2),
            A.ImageCompression(quality_range=(50, 95), p=0.3),
        ]
    return A.Compose(
        steps,
        bbox_params=A.BboxParams(
            format="pascal_voc", label_fields=["labels", "track_ids"], min_visibility=0.3, clip=True
        ),
    )


def read_frame(
    path: str, frame_size: Sequence[int], input_size: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The frame as RGB, decoded at the smallest of 1, 1/2, 1/4, 1/8 scale still >= the input; the
    scale (x, y, x, y) from frame pixels to the decoded image's."""
    (width, height), (in_width, in_height) = frame_size, input_size
    fits = [flag for factor, flag in _REDUCED if width >= factor * in_width and height >= factor * in_height]
    flag = fits[0] if fits else cv2.IMREAD_COLOR
    bgr = cv2.imread(path, flag)
    if bgr is None:
        raise OSError(f"cannot read {path}: re-run the data step, which checks every image")
    sx, sy = bgr.shape[1] / frame_size[0], bgr.shape[0] / frame_size[1]
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), np.array([sx, sy, sx, sy], dtype=np.float32)


class DetectionFrames(SampleDataset):
    """(image uint8 (3, H, W), target) for ``frames_per_clip`` frames of each clip.

    The target holds ``class_labels`` (N,), ``boxes`` (N, 4) normalised (cx, cy, w, h), the
    ``track_ids``, the ``clip`` index, the ``frame`` number and the ``frame_size`` (W, H).
    """

    def __init__(
        self,
        clips: Sequence[Clip],
        frames_per_clip: int,
        input_size: Sequence[int],
        train: bool,
        augment: bool,
    ) -> None:
        if frames_per_clip < 1:
            raise ValueError(f"frames_per_clip must be >= 1, got {frames_per_clip}")
        self.skipped_roles: Counter[str] = Counter()
        self.clips = [clip_frames(clip, self.skipped_roles) for clip in clips if clip.frames]
        if not self.clips:
            raise ValueError("no clip has a usable frame: rerun the data step and read its summary")
        self.per_clip = int(frames_per_clip)
        self.input_size = tuple(int(v) for v in input_size)
        self.train = train
        self.transform = augmentations(input_size, train and augment)

    def __len__(self) -> int:
        return len(self.clips) * self.per_clip

    def locate(self, index: int, rng: np.random.Generator | None) -> tuple[int, int]:
        """(clip, position in its frame list) of sample ``index``; random within its stretch if ``rng``."""
        clip, slot = divmod(index, self.per_clip)
        count = len(self.clips[clip].frames)
        low = slot * count // self.per_clip
        high = max(low + 1, (slot + 1) * count // self.per_clip)
        position = int(rng.integers(low, high)) if rng is not None else (low + high - 1) // 2
        return clip, min(position, count - 1)

    def image(self, index: int) -> np.ndarray:
        """The validation frame of sample ``index`` as RGB at its stored size (for pictures)."""
        clip, position = self.locate(index, None)
        frames = self.clips[clip]
        rgb, _ = read_frame(frames.paths[position], frames.frame_size, frames.frame_size)
        return rgb

    def get(self, index: int, rng: np.random.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        clip, position = self.locate(index, rng if self.train else None)
        frames = self.clips[clip]
        image, scale = read_frame(frames.paths[position], frames.frame_size, self.input_size)
        self.transform.set_random_seed(int(rng.integers(2**31)))
        out = self.transform(
            image=image,
            bboxes=frames.boxes[position] * scale,
            labels=frames.labels[position],
            track_ids=frames.track_ids[position],
        )
        width, height = self.input_size
        xyxy = np.asarray(out["bboxes"], dtype=np.float32).reshape(-1, 4) / [width, height, width, height]
        cxcywh = np.concatenate([(xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]], axis=1)
        return torch.from_numpy(out["image"]).permute(2, 0, 1).contiguous(), {
            "class_labels": torch.as_tensor(np.asarray(out["labels"], dtype=np.int64)),
            "boxes": torch.from_numpy(cxcywh.astype(np.float32)),
            "track_ids": torch.as_tensor(np.asarray(out["track_ids"], dtype=np.int64)),
            "clip": torch.tensor(clip),
            "frame": torch.tensor(int(frames.frames[position])),
            "frame_size": torch.tensor(frames.frame_size, dtype=torch.float32),
        }


def collate(samples: list[tuple[torch.Tensor, dict[str, torch.Tensor]]]) -> tuple[torch.Tensor, dict]:
    """Images stacked; targets as DETR wants them (a list of per-image dicts) plus stacked frame facts."""
    images = torch.stack([image for image, _ in samples])
    targets = [target for _, target in samples]
    return images, {
        "labels": [{"class_labels": t["class_labels"], "boxes": t["boxes"]} for t in targets],
        "track_ids": [t["track_ids"] for t in targets],
        **{key: torch.stack([t[key] for t in targets]) for key in ("clip", "frame", "frame_size")},
    }
