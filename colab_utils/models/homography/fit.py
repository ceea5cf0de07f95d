"""Differentiable ground homographies from detected keypoints, and their error in metres.

The fit is kornia's weighted DLT (pitch metres -> pixels), weighted by the keypoints'
confidences, with its SVD solver: the homography is the singular vector of the weighted
normal matrix, so gradients reach the keypoint positions and the confidences. kornia
Hartley-normalises both point sets itself (weighted, zero-weight points excluded), which
is what makes a DLT on 960-pixel and 52-metre coordinates well conditioned in float32;
no further scaling is applied here. It runs outside autocast: fp16 would not hold it.

A fit is refused, rather than returned as an arbitrary null vector, when the confident
keypoints cannot determine a homography: fewer than four, or all but one on one pitch line
(the goal line holds six of the 29 points, a touch line seven). Refused frames are solved on
a constant stand-in and discarded, so no NaN can reach the gradients and nothing branches
on the data (the trainer's time estimate runs the loss on PyTorch's meta device).

The error of a homography is measured on the pitch: grid points that the true homography
shows inside the image are mapped to pixels by it and back to the pitch by the inverse of
the predicted one; the distance to where they started, in metres.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np
import torch
from kornia.geometry.homography import find_homography_dlt

from colab_utils.geometry import pitch as P
from colab_utils.geometry.keypoints import WORLD_57

MIN_DENOMINATOR = 1e-6
"""|w| below this (relative) puts a pixel on the predicted horizon: clamped, not divided by."""


def full_precision(device: torch.device) -> contextlib.AbstractContextManager:
    """Autocast switched off (the fit and the errors need float32); the meta device has none."""
    if torch.amp.is_autocast_available(device.type):
        return torch.autocast(device.type, enabled=False)
    return contextlib.nullcontext()


def off_line_table(world: torch.Tensor) -> torch.Tensor:
    """(K, K, K) float: 1 where point k is off the line through points i and j (i != j)."""
    d = world[None, :, :] - world[:, None, :]
    rel = world[None, None, :, :] - world[:, None, None, :]
    cross = d[..., None, 0] * rel[..., 1] - d[..., None, 1] * rel[..., 0]
    length = d.norm(dim=-1, keepdim=True)
    return (cross.abs() > 1e-6 * length.clamp_min(1e-12)).float()


def in_general_position(used: torch.Tensor, off_line: torch.Tensor) -> torch.Tensor:
    """(B,) whether the used points (B, K) include four with no three on a line.

    That fails exactly when one line holds all used points but at most one: then some pair
    of used points has fewer than two used points off its line.
    """
    used = used.float()
    off_count = torch.einsum("ijk,bk->bij", off_line, used)
    pair = used[:, :, None] * used[:, None, :] * (1 - torch.eye(used.shape[1], device=used.device))
    short = ((off_count < 2).float() * pair).sum(dim=(1, 2))
    return (used.sum(dim=1) >= 4) & (short == 0)


class HomographyFit(torch.nn.Module):
    """Keypoints (B, K, 2) in pixels and confidences (B, K) -> (homographies (B, 3, 3), fitted (B,)).

    Keypoints below ``min_confidence`` get weight 0; the others are weighted by their
    confidence. Each homography maps pitch metres to pixels, signed so that the keypoints it
    was fitted to (in front of the camera) have w > 0, like the dataset's. A frame that is
    not ``fitted`` gets the identity as a placeholder.
    """

    def __init__(self, world: torch.Tensor, min_confidence: float) -> None:
        super().__init__()
        world = torch.as_tensor(world, dtype=torch.float32)
        self.register_buffer("world", world, persistent=False)
        self.register_buffer("off_line", off_line_table(world.double()).float(), persistent=False)
        self.min_confidence = min_confidence

    @classmethod
    def of_keypoints(cls, keypoints: Sequence[int], min_confidence: float) -> HomographyFit:
        """The fit of a model that predicts these ground keypoints (indices into the 57)."""
        return cls(torch.as_tensor(np.asarray(WORLD_57)[list(keypoints), :2]), min_confidence)

    def forward(self, xy: torch.Tensor, confidence: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with full_precision(xy.device):
            xy, confidence = xy.float(), confidence.float()
            weights = torch.where(confidence >= self.min_confidence, confidence, torch.zeros_like(confidence))
            fitted = in_general_position(weights > 0, self.off_line)
            fitted = fitted & torch.isfinite(xy).all(dim=(1, 2)) & torch.isfinite(weights).all(dim=1)
            # Frames that cannot be fitted are solved on a constant, well-posed stand-in (the pitch
            # itself) and discarded: no branch on the data, and no degenerate SVD in the backward pass.
            world = self.world.expand(len(xy), -1, -1)
            xy = torch.where(fitted[:, None, None], xy, world)
            weights = torch.where(fitted[:, None], weights, torch.ones_like(weights))
            found = find_homography_dlt(world, xy, weights, solver="svd")
            w = (found[:, 2:] @ torch.cat([world, torch.ones_like(world[..., :1])], dim=-1).mT)[:, 0]
            in_front = torch.where((w * weights).sum(dim=1) < 0, -1.0, 1.0).detach()
            found = found * in_front[:, None, None]
            fitted = fitted & torch.isfinite(found).all(dim=(1, 2))
            return torch.where(fitted[:, None, None], found, torch.eye(3, device=xy.device)), fitted


def pitch_grid(step_m: float) -> torch.Tensor:
    """(N, 2) points every ``step_m`` metres over the whole pitch, touch and goal lines included."""
    xs = torch.linspace(-P.HALF_L, P.HALF_L, round(P.LENGTH / step_m) + 1)
    ys = torch.linspace(-P.HALF_W, P.HALF_W, round(P.WIDTH / step_m) + 1)
    return torch.cartesian_prod(xs, ys)


def project(homographies: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Points (N, 2) through homographies (B, 3, 3): (B, N, 2) and the homogeneous w (B, N)."""
    mapped = homographies @ torch.cat([points, torch.ones_like(points[:, :1])], dim=1).T
    w = mapped[:, 2]
    return (mapped[:, :2] / w[:, None]).transpose(1, 2), w


def seen_by(homographies: torch.Tensor, grid: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
    """(B, N) grid points a camera with these homographies sees: in front and inside (width, height)."""
    width, height = image_size
    pixels, w = project(homographies, grid)
    x, y = pixels.unbind(dim=-1)
    finite = torch.isfinite(homographies).all(dim=(1, 2))[:, None]
    return finite & (w > 0) & (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)


def reprojection_errors(
    predicted: torch.Tensor, true: torch.Tensor, grid: torch.Tensor, image_size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(errors (B, N) in metres, seen (B, N)) of predicted against true homographies (pitch -> pixels).

    ``true`` must put in-front points at w > 0 (as the dataset's homographies do); the
    predicted homography's sign does not matter. Errors are finite everywhere and only
    meaningful where ``seen``.
    """
    with full_precision(predicted.device):
        predicted, true, grid = predicted.float(), true.float(), grid.float()
        seen = seen_by(true, grid, image_size)
        pixels, _ = project(torch.nan_to_num(true), grid)
        pixels = torch.where(seen[..., None], pixels, torch.zeros_like(pixels))
        homogeneous = torch.cat([pixels, torch.ones_like(pixels[..., :1])], dim=-1).transpose(1, 2)
        back = torch.linalg.inv(predicted / predicted.norm(dim=(1, 2), keepdim=True)) @ homogeneous
        w = back[:, 2]
        scale = back[:, :2].norm(dim=1).clamp_min(1.0)
        w = torch.where(w.abs() < MIN_DENOMINATOR * scale, MIN_DENOMINATOR * scale, w)
        on_pitch = (back[:, :2] / w[:, None]).transpose(1, 2)
        return (on_pitch - grid).norm(dim=-1), seen
