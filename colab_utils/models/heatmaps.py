"""Keypoint heatmaps with a background channel: targets, masked loss, sub-pixel decoding.

Coordinates: a heatmap pixel (i, j) at stride s is centred on input pixel
((j + 0.5) * s - 0.5, (i + 0.5) * s - 0.5); encoding and decoding use the same map, so
the round trip has no bias. Targets are rendered on the fly on the model's device from
the keypoint coordinates (57 x 2 numbers per image) instead of being shipped through the
data loader as 57 full-size maps.
"""

from __future__ import annotations

import torch
from torch import nn


def to_heatmap(xy: torch.Tensor, stride: int) -> torch.Tensor:
    return (xy + 0.5) / stride - 0.5


def from_heatmap(uv: torch.Tensor, stride: int) -> torch.Tensor:
    return (uv + 0.5) * stride - 0.5


def gaussian_targets(
    keypoints: torch.Tensor, visible: torch.Tensor, size: tuple[int, int], stride: int, sigma: float
) -> torch.Tensor:
    """(B, K+1, H, W): a Gaussian (peak 1) per visible keypoint, background = 1 - their max."""
    height, width = size
    uv = to_heatmap(keypoints.float(), stride)
    xs = torch.arange(width, device=keypoints.device, dtype=torch.float32)
    ys = torch.arange(height, device=keypoints.device, dtype=torch.float32)
    gx = torch.exp(-((xs[None, None, :] - uv[..., 0:1]) ** 2) / (2 * sigma**2))
    gy = torch.exp(-((ys[None, None, :] - uv[..., 1:2]) ** 2) / (2 * sigma**2))
    maps = gy[..., :, None] * gx[..., None, :] * visible[..., None, None].float()
    background = 1.0 - maps.amax(dim=1, keepdim=True)
    return torch.cat([maps, background], dim=1)


class MaskedHeatmapLoss(nn.Module):
    """Sportlight's MSE between predicted probabilities and Gaussian targets, over trainable channels,
    plus an optional soft cross-entropy on the same log-probabilities (``ce_weight``).

    A keypoint channel whose presence could not be derived from the annotation (``trainable``
    False) is left out of the loss rather than taught "nothing here". The MSE alone saturates
    once the background channel wins (the softmax gradient p(1 - p) vanishes where a keypoint
    should be); the cross-entropy term does not, and makes training converge much sooner.
    """

    def __init__(self, stride: int, sigma: float, ce_weight: float = 0.0) -> None:
        super().__init__()
        self.stride = stride
        self.sigma = sigma
        self.ce_weight = ce_weight

    def forward(self, log_probs: torch.Tensor, target: dict[str, torch.Tensor]) -> torch.Tensor:
        log_probs = log_probs.float()
        probs = log_probs.exp()
        wanted = gaussian_targets(
            target["keypoints"], target["visible"], probs.shape[-2:], self.stride, self.sigma
        )
        mask = torch.cat(
            [target["trainable"].float(), torch.ones_like(target["trainable"][:, :1].float())], dim=1
        )
        per_channel = ((probs - wanted) ** 2).mean(dim=(2, 3))
        loss = (per_channel * mask).sum() / mask.sum()
        if self.ce_weight:
            cross_entropy = -(wanted * log_probs).mean(dim=(2, 3))
            loss = loss + self.ce_weight * (cross_entropy * mask).sum() / mask.sum()
        return loss


def decode(
    log_probs: torch.Tensor, stride: int, valid_size: tuple[int, int], radius: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each keypoint channel's peak inside the valid (unpadded) area, refined to sub-pixel.

    Returns input-pixel coordinates (B, K, 2) and confidences (B, K) (the peak probability).
    The position is the probability-weighted centroid of a (2r+1)^2 window around the
    peak (narrower at the borders, always centred on the peak). On an overfitted smoke
    model, a window of ~2.5 sigma gave a median error of 0.8 px at 960x540, against 3.5 px
    for a parabola fitted to the log-probability: a learned peak's log is too noisy a curve
    to fit on three points.
    """
    height, width = valid_size
    probs = log_probs[:, :-1, :height, :width].float().exp()
    batch, channels = probs.shape[:2]
    flat = probs.reshape(batch, channels, -1)
    peak, index = flat.max(dim=2)
    iy, ix = index // width, index % width
    offsets = torch.arange(-radius, radius + 1, device=probs.device)
    dy, dx = (o.reshape(-1) for o in torch.meshgrid(offsets, offsets, indexing="ij"))
    ys, xs = iy[..., None] + dy, ix[..., None] + dx
    # near a border the window shrinks on both sides, so it stays centred on the peak
    reach_x = torch.minimum(ix, width - 1 - ix).clamp(max=radius)[..., None]
    reach_y = torch.minimum(iy, height - 1 - iy).clamp(max=radius)[..., None]
    inside = (dx.abs() <= reach_x) & (dy.abs() <= reach_y)
    window = flat.gather(2, (ys.clamp(0, height - 1) * width + xs.clamp(0, width - 1))) * inside
    total = window.sum(dim=2).clamp_min(1e-12)
    uv = torch.stack([(window * xs).sum(dim=2) / total, (window * ys).sum(dim=2) / total], dim=2)
    return from_heatmap(uv, stride), peak
