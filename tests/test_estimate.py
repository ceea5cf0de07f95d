"""The time estimate's FLOP counting and arithmetic."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from colab_utils.engine.estimate import FLOP_FIXES, Estimate, peak_tflops
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
