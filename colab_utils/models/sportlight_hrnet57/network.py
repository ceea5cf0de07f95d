"""Sportlight's keypoint network: HRNet with every branch brought to stride 2.

timm's HRNet (``features_only``) gives the stride-2 stem and the four branches at strides
4-32. Each is upsampled to the stem's resolution, all are concatenated and a 1x1
convolution predicts K keypoint channels plus one background channel; a log-softmax
over channels makes every heatmap pixel a distribution over "which keypoint, or none".

timm's HRNet refuses ``set_grad_checkpointing``; with ``grad_checkpointing`` its first layer, its
three multi-branch stages and the fusion (the stride-2 concatenation of every branch, the largest
tensor of all) recompute their activations in the backward pass instead.
"""

from __future__ import annotations

import timm
import torch
import torch.nn.functional as F
from torch import nn

from colab_utils.grad_checkpointing import recompute, recompute_in_backward
from colab_utils.imagenet import register_imagenet_stats


class HRNetHeatmap(nn.Module):
    """RGB images (B, 3, H, W), uint8 or float, sides divisible by 32 -> log-probabilities
    (B, K+1, H/2, W/2)."""

    def __init__(
        self,
        backbone: str = "hrnet_w48",
        num_keypoints: int = 57,
        pretrained: bool = False,
        grad_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        self.backbone = timm.create_model(
            backbone, pretrained=pretrained, features_only=True, feature_location=""
        )
        if self.backbone.feature_info.reduction()[0] != 2:
            raise ValueError(f"{backbone} has no stride-2 stem feature; use an HRNet (hrnet_w18/w32/w48)")
        self.head = nn.Conv2d(sum(self.backbone.feature_info.channels()), num_keypoints + 1, kernel_size=1)
        self.grad_checkpointing = grad_checkpointing
        if grad_checkpointing:
            net = self.backbone
            recompute_in_backward([net.layer1, net.stage2, net.stage3, net.stage4])
        register_imagenet_stats(self)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = (images.float() - self.mean) / self.std
        features = self.backbone(x)
        if self.grad_checkpointing:
            return recompute(self.head, self.heatmaps, features)
        return self.heatmaps(features)

    def heatmaps(self, features: list[torch.Tensor]) -> torch.Tensor:
        """Every branch upsampled to the stem's stride and concatenated, the 1x1 head, the log-softmax."""
        size = features[0].shape[-2:]
        upsampled = [features[0]] + [
            F.interpolate(f, size=size, mode="bilinear", align_corners=False) for f in features[1:]
        ]
        return F.log_softmax(self.head(torch.cat(upsampled, dim=1)), dim=1)
