"""Calibration frames as training samples: image + keypoint targets, augmented per sample.

Each sample is read from an image/JSON pair, its annotation relabelled consistently for
behind-the-goal views and turned into keypoint targets the way Sportlight derives them (once
per split, :mod:`colab_utils.calibration.targets_cache`), then resized, augmented (colour,
noise, blur, horizontal flip with label mirroring) and padded to the backbone's multiple by an
albumentations pipeline seeded from (seed, epoch, index).

A sample is small on purpose: the image as uint8 and the keypoints as coordinates. The
Gaussian heatmaps are rendered on the GPU by the loss, instead of shipping 57 full-size
maps per image through the loader's shared memory. The annotation's ground homography
travels with them, moved into the sample's own pixels, as the truth a homography model
is measured against.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import torch

from colab_utils.calibration.targets_cache import SplitTargets, frame_targets
from colab_utils.engine.sampling import SampleDataset
from colab_utils.geometry.keypoints import FLIP_57

OUTSIDE = -10_000.0  # stands in for unknown keypoints inside albumentations (which has no NaN)


def to_frame_pixels(xy: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Input-image pixels back to frame pixels, pixel centres aligned (``scale``: frame / input size)."""
    return (xy + 0.5) * scale - 0.5


def homography_to_frame(homography: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Homographies (..., 3, 3) into input pixels -> into frame pixels, like :func:`to_frame_pixels`."""
    sx, sy = scale[..., 0], scale[..., 1]
    zero, one = torch.zeros_like(sx), torch.ones_like(sx)
    rows = [(sx, zero, 0.5 * sx - 0.5), (zero, sy, 0.5 * sy - 0.5), (zero, zero, one)]
    to_frame = torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)
    return to_frame @ homography


def homography_to_input(
    homography: np.ndarray | None, scale: np.ndarray, input_width: int, flipped: bool
) -> np.ndarray:
    """The annotation's ground homography (pitch metres -> frame pixels) in the sample's pixels.

    The sample's geometry is the resize (pixel centres aligned, as for the keypoints), an
    optional horizontal flip, which mirrors the image and the pitch's x together like
    ``flip_targets``, and padding at the bottom/right, which moves nothing. Scaled to a
    largest entry of 1 (points in front of the camera keep w > 0); NaN when there is none.
    """
    if homography is None:
        return np.full((3, 3), np.nan, dtype=np.float32)
    sx, sy = (float(v) for v in scale)
    to_input = np.array([[1 / sx, 0.0, 0.5 / sx - 0.5], [0.0, 1 / sy, 0.5 / sy - 0.5], [0.0, 0.0, 1.0]])
    h = to_input @ homography
    if flipped:
        mirror_image = np.array([[-1.0, 0.0, input_width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        h = mirror_image @ h @ np.diag([-1.0, 1.0, 1.0])
    return (h / np.abs(h).max()).astype(np.float32)


def subset_flip(keypoints: Sequence[int]) -> np.ndarray:
    """The horizontal-flip permutation restricted to a subset of the 57 keypoints."""
    position = {k: i for i, k in enumerate(keypoints)}
    return np.array([position[int(FLIP_57[k])] for k in keypoints])


def augmentations(input_size: Sequence[int], padded_size: Sequence[int], train: bool) -> A.Compose:
    """Resize to the profile's input size, augment (train only), pad bottom/right."""
    width, height = (int(v) for v in input_size)
    padded_w, padded_h = (int(v) for v in padded_size)
    steps: list = [A.Resize(height=height, width=width, interpolation=cv2.INTER_AREA)]
    if train:
        steps += [
            A.HorizontalFlip(p=0.5),
            A.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05, p=0.8),
            A.OneOf([A.GaussNoise(std_range=(0.02, 0.08)), A.ISONoise()], p=0.3),
            A.OneOf([A.MotionBlur(blur_limit=5), A.GaussianBlur(blur_limit=(3, 5))], p=0.2),
            A.ImageCompression(quality_range=(50, 95), p=0.3),
        ]
    steps.append(
        A.PadIfNeeded(
            min_height=padded_h, min_width=padded_w, position="top_left", border_mode=cv2.BORDER_CONSTANT
        )
    )
    return A.Compose(
        steps,
        keypoint_params=A.KeypointParams(format="xy", remove_invisible=False),
        save_applied_params=True,
    )


class CalibrationFrames(SampleDataset):
    """(image uint8 (3, H, W), target dict) for a set of SoccerNet calibration frames.

    The target holds the keypoints (input pixels), their ``visible`` and ``trainable`` flags,
    ``scale`` (frame / input size), ``frame_size``, the frame ``index`` and ``homography``
    (pitch metres -> input pixels, NaN when the annotation gives none).
    """

    def __init__(
        self,
        pairs: Sequence[tuple[Path, Path]],
        input_size: Sequence[int],
        padded_size: Sequence[int],
        train: bool,
        keypoints: Sequence[int] = tuple(range(57)),
        margin_px: float = 6.0,
        targets: SplitTargets | None = None,
    ) -> None:
        self.pairs = list(pairs)
        self.targets = targets  # derived once per split; None: in every call
        self.keypoints = np.asarray(keypoints)
        self.flip = subset_flip(keypoints)
        self.margin_px = margin_px
        self.input_size = tuple(int(v) for v in input_size)
        self.transform = augmentations(input_size, padded_size, train)

    def __len__(self) -> int:
        return len(self.pairs)

    def annotation(self, index: int) -> dict:
        """The frame's annotation exactly as stored (for the official metric)."""
        return json.loads(Path(self.pairs[index][1]).read_text())

    def image(self, index: int) -> np.ndarray:
        """The frame as RGB uint8 at its stored size."""
        bgr = cv2.imread(str(self.pairs[index][0]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise OSError(f"cannot read {self.pairs[index][0]}: re-run the data step to verify the split")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def get(self, index: int, rng: np.random.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        image = self.image(index)
        height, width = image.shape[:2]
        targets = self.targets.get(index, width, height) if self.targets is not None else None
        if targets is None:
            targets = frame_targets(self.annotation(index), width, height, self.margin_px)
        known = np.isfinite(targets.xy).all(axis=1)[self.keypoints]
        scale = np.array([width / self.input_size[0], height / self.input_size[1]], dtype=np.float32)
        # albumentations resizes keypoints as x * s; OpenCV resizes pixels with centres aligned,
        # (x + 0.5) * s - 0.5. Shifting first makes the two agree (1 px at 960 -> 320 otherwise).
        xy = np.where(known[:, None], targets.xy[self.keypoints] + 0.5 - 0.5 * scale, OUTSIDE)
        self.transform.set_random_seed(int(rng.integers(2**31)))
        out = self.transform(image=image, keypoints=xy)
        moved = np.asarray(out["keypoints"], dtype=np.float32)[:, :2]
        visible = targets.visible[self.keypoints].copy()
        trainable = targets.mask[self.keypoints].copy()
        flipped = any(name == "HorizontalFlip" for name, _ in out["applied_transforms"])
        if flipped:
            moved, visible, trainable = moved[self.flip], visible[self.flip], trainable[self.flip]
        homography = homography_to_input(targets.homography, scale, self.input_size[0], flipped)
        return torch.from_numpy(out["image"]).permute(2, 0, 1).contiguous(), {
            "keypoints": torch.from_numpy(moved),
            "visible": torch.from_numpy(visible),
            "trainable": torch.from_numpy(trainable),
            "scale": torch.from_numpy(scale),
            "frame_size": torch.tensor([width, height], dtype=torch.float32),
            "index": torch.tensor(index),
            "homography": torch.from_numpy(homography),
        }
