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


def peak_pixels(
    keypoints: torch.Tensor, visible: torch.Tensor, size: tuple[int, int], stride: int
) -> torch.Tensor:
    """(B, K, H*W) one-hot maps of the heatmap pixel nearest each visible keypoint inside the map."""
    height, width = size
    iu, iv = to_heatmap(keypoints.float(), stride).round().long().unbind(dim=-1)
    inside = visible.bool() & (iu >= 0) & (iu < width) & (iv >= 0) & (iv < height)
    flat = (iv.clamp(0, height - 1) * width + iu.clamp(0, width - 1))[..., None]
    peaks = torch.zeros(*keypoints.shape[:2], height * width, device=keypoints.device)
    return peaks.scatter_(2, flat, inside[..., None].float())


def focal_heatmap_loss(
    log_probs: torch.Tensor,
    probs: torch.Tensor,
    wanted: torch.Tensor,
    peaks: torch.Tensor,
    mask: torch.Tensor,
    alpha: float = 2.0,
    beta: float = 4.0,
) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss on the keypoint channels' probabilities.

    ``log_probs`` and ``probs`` (B, K, H, W) are the keypoint channels' predictions (both, as
    the caller has them), ``wanted`` the Gaussian targets, ``peaks`` (B, K, H*W) the one pixel per
    keypoint that should say "here" (:func:`peak_pixels`), ``mask`` (B, K) the trainable
    channels. Every other pixel is a negative whose penalty fades near the keypoint by
    (1 - target)^beta; easy pixels fade by the focal factor. Summed, then divided by the
    number of keypoints, so the loss does not shrink with the size of the heatmap.
    """
    log_p, p, wanted = log_probs.flatten(2), probs.flatten(2), wanted.flatten(2)
    positive = -((1 - p) ** alpha) * log_p * peaks
    log_not_p = torch.log1p(-p.clamp(max=1 - 1e-6))
    negative = -((1 - wanted) ** beta) * p**alpha * log_not_p * (1 - peaks)
    per_channel = (positive + negative).sum(dim=2)
    return (per_channel * mask).sum() / peaks.sum().clamp_min(1.0)


class MaskedHeatmapLoss(nn.Module):
    """Sportlight's MSE between predicted probabilities and Gaussian targets, over trainable channels,
    plus an optional soft cross-entropy on the same log-probabilities (``ce_weight``) and an
    optional focal loss on the keypoint channels (``focal_weight``, :func:`focal_heatmap_loss`).

    A keypoint channel whose presence could not be derived from the annotation (``trainable``
    False) is left out of the loss rather than taught "nothing here". The MSE alone saturates
    once the background channel wins (the softmax gradient p(1 - p) vanishes where a keypoint
    should be); the cross-entropy term does not, and makes training converge much sooner, nor
    does the focal term, whose gradient at a missed keypoint stays near 1.
    """

    def __init__(self, stride: int, sigma: float, ce_weight: float = 0.0, focal_weight: float = 0.0) -> None:
        super().__init__()
        self.stride = stride
        self.sigma = sigma
        self.ce_weight = ce_weight
        self.focal_weight = focal_weight

    def forward(self, log_probs: torch.Tensor, target: dict[str, torch.Tensor]) -> torch.Tensor:
        log_probs = log_probs.float()
        probs = log_probs.exp()
        size = probs.shape[-2:]
        wanted = gaussian_targets(target["keypoints"], target["visible"], size, self.stride, self.sigma)
        trainable = target["trainable"].float()
        mask = torch.cat([trainable, torch.ones_like(trainable[:, :1])], dim=1)
        per_channel = ((probs - wanted) ** 2).mean(dim=(2, 3))
        loss = (per_channel * mask).sum() / mask.sum()
        if self.ce_weight:
            cross_entropy = -(wanted * log_probs).mean(dim=(2, 3))
            loss = loss + self.ce_weight * (cross_entropy * mask).sum() / mask.sum()
        if self.focal_weight:
            peaks = peak_pixels(target["keypoints"], target["visible"], size, self.stride)
            focal = focal_heatmap_loss(log_probs[:, :-1], probs[:, :-1], wanted[:, :-1], peaks, trainable)
            loss = loss + self.focal_weight * focal
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
