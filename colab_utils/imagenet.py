"""ImageNet's pixel statistics, which every pretrained backbone here expects its input normalised by.

The networks take uint8-range images, so the statistics are kept in 0-255 units as buffers of
the network: they move with it to the GPU and stay out of its state dict.
"""

from __future__ import annotations

import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torch import nn


def register_imagenet_stats(module: nn.Module) -> None:
    """Give ``module`` the buffers ``mean`` and ``std`` of shape (1, 3, 1, 1), in pixel units."""
    for name, values in (("mean", IMAGENET_DEFAULT_MEAN), ("std", IMAGENET_DEFAULT_STD)):
        module.register_buffer(name, torch.tensor(values).view(1, 3, 1, 1) * 255, persistent=False)
