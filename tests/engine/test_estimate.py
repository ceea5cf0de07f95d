"""The time estimate's FLOP counting and arithmetic."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from torch.utils.flop_counter import FlopCounterMode

from colab_utils.engine.contract import Task, TrainModel
from colab_utils.engine.estimate import FLOP_FIXES, Estimate, peak_tflops, training_flops
from colab_utils.runtime import GPU


@pytest.mark.parametrize("groups", [1, 64])
def test_a_convolution_backward_costs_twice_its_forward_whatever_its_groups(groups):
    conv = torch.nn.Conv2d(64, 64, 3, padding=1, groups=groups)
    x = torch.randn(2, 64, 16, 16, requires_grad=True)
    with FlopCounterMode(display=False, custom_mapping=FLOP_FIXES) as forward:
        conv(x)
    with FlopCounterMode(display=False, custom_mapping=FLOP_FIXES) as step:
        conv(x).sum().backward()
    assert step.get_total_flops() == 3 * forward.get_total_flops()


def test_peaks_are_found_by_name_and_sessions_round_up():
    assert peak_tflops(GPU("Tesla T4", 15, (7, 5))) == 65.0
    assert peak_tflops(GPU("NVIDIA A100-SXM4-40GB", 40, (8, 0))) == 312.0
    assert peak_tflops(GPU("Quadro RTX 5000", 16, (7, 5))) is None
    estimate = Estimate(flops_per_sample=1e12, seconds_per_epoch=1200.0, epochs=100)
    assert estimate.hours == pytest.approx(33.33, abs=0.01)
    assert estimate.sessions == 3  # 33.3 h in sessions of 11.5 h


class _Depthwise(torch.nn.Module):
    """A depthwise convolution whose input needs a gradient too (a learned gain before it)."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = torch.nn.Parameter(torch.ones(1))
        self.conv = torch.nn.Conv2d(64, 64, 3, padding=1, groups=64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x * self.gain)


class _DepthwiseModel(TrainModel):
    nn_module = _Depthwise
    loss = torch.nn.L1Loss


class _DepthwiseTask(Task):
    model_class = _DepthwiseModel

    def model_params(self, cfg):
        return {"nn_module": {}}


def test_training_flops_count_a_depthwise_convolution_three_times_its_forward():
    """Not 64 times: torch's own counter charges the weight gradient as if the convolution were dense."""
    cfg = OmegaConf.create({"train": {"optimizer": {"name": "Adam", "lr": 1e-3}}})
    x = torch.randn(2, 64, 16, 16)
    batch = (x, torch.zeros(2, 64, 16, 16))
    with FlopCounterMode(display=False) as forward:
        _Depthwise()(x)
    with FlopCounterMode(display=False) as torch_counts:
        _Depthwise()(x).sum().backward()
    training = training_flops(_DepthwiseTask(), cfg, batch)
    assert training == 3 * forward.get_total_flops()
    assert torch_counts.get_total_flops() > 20 * forward.get_total_flops()
