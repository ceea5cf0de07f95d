"""The time estimate's FLOP counting and arithmetic."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from torch.utils.flop_counter import FlopCounterMode

from colab_utils.engine.contract import Task, TrainModel
from colab_utils.engine.estimate import (
    FLOP_FIXES,
    Estimate,
    estimate,
    peak_tflops,
    time_loader,
    training_flops,
)
from colab_utils.engine.measured_gpu import ITEMS_PER_S
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
    estimate = Estimate(flops_per_sample=1e12, gpu_seconds_per_epoch=1200.0, epochs=100)
    assert estimate.hours == pytest.approx(33.33, abs=0.01)
    assert estimate.sessions == 3  # 33.3 h in sessions of 11.5 h


def test_the_slower_of_gpu_and_loader_sets_the_epoch_and_the_text_says_which():
    t4 = GPU("Tesla T4", 15, (7, 5))
    starved = Estimate(
        1e9, gpu_seconds_per_epoch=120.0, epochs=30, loader_rate=20.0, loader_seconds_per_epoch=2400.0
    )
    assert starved.seconds_per_epoch == 2400.0 and starved.sessions == 2  # 20 h
    assert "the loader sets the pace, ~40.0 min per epoch" in starved.text(t4)
    fed = Estimate(
        1e9, gpu_seconds_per_epoch=120.0, epochs=30, loader_rate=900.0, loader_seconds_per_epoch=60.0
    )
    assert fed.seconds_per_epoch == 120.0 and "the GPU sets the pace" in fed.text(t4)


def test_the_loader_is_timed_after_its_first_batch_across_epochs():
    from colab_utils.engine.sampling import ResumableBatchSampler, ShuffledBatches

    sampler = ResumableBatchSampler(ShuffledBatches(size=8, batch_size=4, seed=0))
    seen = []

    class Loader:  # as a DataLoader does, each pass follows the sampler's current epoch
        def __iter__(self):
            for keys in sampler:
                seen.append(keys[0][0])
                yield keys

    timing = time_loader(sampler, Loader(), batches=5)
    assert timing.rate > 0 and timing.first_size == 4 and len(timing.first_batch) == 4
    assert seen == [0, 0, 1, 1, 2, 2]  # the first batch plus 5 timed ones, two per epoch


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


def test_the_estimate_takes_the_measured_rate_where_it_is_slower_than_the_flop_count():
    """A tiny network: by its FLOPs a T4 trains millions of samples/s, more than the H200 measured."""
    t4 = GPU("Tesla T4", 15, (7, 5))
    task = _DepthwiseTask()
    batch = (torch.randn(2, 64, 16, 16), torch.zeros(2, 64, 16, 16))

    def epoch(model: str, profile: str):
        train = {"epochs": 1, "optimizer": {"name": "Adam", "lr": 1e-3}}
        cfg = OmegaConf.create({"task": model, "profile": profile, "train": train})
        return estimate(task, cfg, batch, 2, train_samples=30_000, val_samples=0, gpu=t4), cfg

    capped, cfg = epoch("ball3d", "t4")
    assert capped.gpu_seconds_per_epoch == pytest.approx(30_000 / ITEMS_PER_S["ball3d"])
    assert f"at the {ITEMS_PER_S['ball3d']:,.1f} samples/s an H200" in capped.text(t4)
    flop_seconds = training_flops(task, cfg, batch) / 2 * 30_000 / (65e12 * 0.15)
    for model, profile in (("ball3d", "l4"), ("my_model", "t4")):  # not measured: the FLOP count alone
        uncapped, _ = epoch(model, profile)
        assert uncapped.gpu_seconds_per_epoch == pytest.approx(flop_seconds)
        assert "H200" not in uncapped.text(t4)
