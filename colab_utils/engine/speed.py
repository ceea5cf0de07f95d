"""GPU speed settings a profile can turn on: cuDNN autotuning, channels-last, ``torch.compile``.

Each does nothing on a CPU, so the CPU's bit-exact resume is untouched. The convolutional models'
recipes turn on the first two (their GPU profiles inherit them); ``compile`` is off everywhere.
``cudnn_benchmark`` lets cuDNN time its algorithms and pick the fastest, which can differ
between two sessions: a run resumed on CUDA with it on is close to, not bit-identical with,
one never stopped. ``compile`` compiles the network in place, so checkpoint keys do not change.
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig
from torch import nn


def apply_speed_settings(network: nn.Module, train: DictConfig, device: torch.device) -> torch.memory_format:
    """Set the settings ``train`` asks for on ``network``; returns the memory format for its inputs."""
    if device.type != "cuda":
        return torch.contiguous_format
    torch.backends.cudnn.benchmark = bool(train.get("cudnn_benchmark", False))
    memory_format = torch.channels_last if train.get("channels_last", False) else torch.contiguous_format
    network.to(memory_format=memory_format)
    if train.get("compile", False):
        network.compile()
    return memory_format
