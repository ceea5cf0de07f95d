"""The ball3d network: EfficientNet features per crop, a TCN over time, 3-D positions along rays.

Per frame the network sees a crop around the tracked ball and the frame's geometry (the
ray through the track point, the camera's position, the depth where that ray meets the
ground, the zoom, the crop's scale). An EfficientNet (timm) turns each crop into a vector;
with the geometry it goes through a non-causal TCN (pytorch-tcn: reconstruction is
offline, so each frame may look at the frames after it too). Per frame the head outputs:

* a correction of the track point, in crop pixels (detections are noisy and the track is
  only interpolated where the detector missed the ball);
* s, the log of the ball's depth along the corrected ray relative to the ground depth.

The position is ``camera + ground_depth * exp(s) * ray``. So the prediction always
reprojects onto the corrected track point, s = 0 is exactly the "ball on the ground"
baseline, and a ball in the air is s < 0 (nearer than the ground point behind it). The head
starts at zero: an untrained network *is* the baseline, and training only has to learn
when and how far the ball is off the ground. Depth along the ray rather than height is
predicted because height is ill-defined for rays near the horizon (a low camera looking
at a high ball), where depth is not.
"""

from __future__ import annotations

from collections.abc import Sequence

import timm
import torch
from pytorch_tcn import TCN
from torch import nn

from colab_utils.grad_checkpointing import recompute_in_backward
from colab_utils.imagenet import register_imagenet_stats

LOG_DEPTH_RANGE = (-4.0, 1.0)  # the ball is between 1/55 and 2.7 times the ground depth


class Ball3DNet(nn.Module):
    """(crops (B, T, 3, S, S) uint8, geometry (B, T, F)) -> (B, T, 3): track correction (2) and s (1)."""

    def __init__(
        self,
        backbone: str = "efficientnet_b3",
        pretrained: bool = False,
        geometry_features: int = 13,
        embed_dim: int = 256,
        tcn_channels: Sequence[int] = (256, 256, 256, 256),
        kernel_size: int = 3,
        dropout: float = 0.1,
        grad_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        self.backbone = timm.create_model(backbone, pretrained=pretrained, num_classes=0, global_pool="")
        if grad_checkpointing:  # the crop encoder holds nearly all activations: B x T crops
            recompute_in_backward(self.backbone.blocks)
        self.crop_embed = nn.Sequential(  # keeps a 2x2 layout: where in the crop the ball is matters
            nn.Conv2d(self.backbone.num_features, 64, kernel_size=1),
            nn.SiLU(),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 4, embed_dim),
        )
        self.geometry_embed = nn.Sequential(
            nn.Linear(geometry_features, embed_dim), nn.SiLU(), nn.Linear(embed_dim, embed_dim)
        )
        self.tcn = TCN(
            embed_dim,
            list(tcn_channels),
            kernel_size=kernel_size,
            dropout=dropout,
            causal=False,
            input_shape="NLC",
        )
        self.head = nn.Linear(tcn_channels[-1], 3)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        register_imagenet_stats(self)

    def forward(self, crops: torch.Tensor, geometry: torch.Tensor) -> torch.Tensor:
        batch, frames = crops.shape[:2]
        images = (crops.flatten(0, 1).float() - self.mean) / self.std
        appearance = self.crop_embed(self.backbone(images)).view(batch, frames, -1)
        features = self.tcn(appearance + self.geometry_embed(geometry.to(appearance.dtype)))
        return self.head(features)


def decode(raw: torch.Tensor, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Positions (B, T, 3) in metres and track points (B, T, 2) in frame pixels from the raw output.

    Done in float32 with elementwise products (autocast leaves those alone): pixel
    coordinates in the thousands and positions in metres need more than fp16's 11 bits.
    """
    raw = raw.float()
    uv = inputs["track"].float() + raw[..., :2] * inputs["crop_scale"].float()[..., None]
    homogeneous = torch.cat([uv, torch.ones_like(uv[..., :1])], dim=-1)
    direction = (inputs["rays"].float() * homogeneous[..., None, :]).sum(dim=-1)
    direction = direction / direction.norm(dim=-1, keepdim=True)
    depth = inputs["ground_depth"].float() * raw[..., 2].clamp(*LOG_DEPTH_RANGE).exp()
    return {"position": inputs["origin"].float() + depth[..., None] * direction, "uv": uv}
