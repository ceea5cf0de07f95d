"""The homography model's keypoint network: a timm ResNet with a light FPN decoder.

ResNet features are coarse (stride 4 at best, stride 32 at the end), while keypoints must be
found to a pixel. A feature pyramid brings the deep, semantic levels down to the finest
level used: a 1x1 lateral convolution per level to ``channels`` channels, summed top-down
with bilinear upsampling, then one 3x3 convolution to smooth the sums. At stride 2 the stem's
feature joins the pyramid as its finest level (a skip connection from the image's edges), so
the extra resolution is seen, not only interpolated. A 1x1 convolution then predicts K
keypoint channels plus one background channel, and a log-softmax over channels makes every
heatmap pixel a distribution over "which keypoint, or none": the output the HRNet model
gives, so :class:`~colab_utils.calibration.heatmaps.MaskedHeatmapLoss` and
:func:`~colab_utils.calibration.heatmaps.decode` serve both models.
"""

from __future__ import annotations

import math

import timm
import torch
import torch.nn.functional as F
from torch import nn

from colab_utils.grad_checkpointing import recompute_in_backward, resnet_stages
from colab_utils.imagenet import register_imagenet_stats

STRIDES = (2, 4)
BACKGROUND_PRIOR = 0.99
"""The background probability an untrained head predicts everywhere (RetinaNet's prior
initialisation): the keypoint channels then start near 0 instead of near 1/(K+1), so the
first steps are not spent suppressing them over the whole map."""


class ResNetHeatmap(nn.Module):
    """RGB images (B, 3, H, W), uint8 or float, sides divisible by 32 -> log-probabilities
    (B, K+1, H/stride, W/stride)."""

    def __init__(
        self,
        backbone: str = "resnet50",
        num_keypoints: int = 29,
        pretrained: bool = False,
        stride: int = 2,
        channels: int = 128,
        grad_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        if stride not in STRIDES:
            raise ValueError(f"heatmap stride must be one of {STRIDES}, got {stride}")
        self.backbone = timm.create_model(backbone, pretrained=pretrained, features_only=True)
        reductions = self.backbone.feature_info.reduction()
        if stride not in reductions:
            raise ValueError(f"{backbone} has no stride-{stride} feature; use a ResNet (resnet18/26/50)")
        self.first_level = reductions.index(stride)
        self.lateral = nn.ModuleList(
            nn.Conv2d(c, channels, kernel_size=1)
            for c in self.backbone.feature_info.channels()[self.first_level :]
        )
        self.smooth = nn.Sequential(
            nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Conv2d(channels, num_keypoints + 1, kernel_size=1)
        with torch.no_grad():  # start by saying "background" almost everywhere, as is almost right
            self.head.bias[-1] = math.log(BACKGROUND_PRIOR / (1 - BACKGROUND_PRIOR) * num_keypoints)
        if grad_checkpointing:
            recompute_in_backward(resnet_stages(self.backbone))
        register_imagenet_stats(self)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = (images.float() - self.mean) / self.std
        features = self.backbone(x)[self.first_level :]
        merged = self.lateral[-1](features[-1])
        for lateral, feature in zip(self.lateral[-2::-1], features[-2::-1], strict=True):
            up = F.interpolate(merged, size=feature.shape[-2:], mode="bilinear", align_corners=False)
            merged = lateral(feature) + up
        return F.log_softmax(self.head(self.smooth(merged)), dim=1)
