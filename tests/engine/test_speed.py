"""GPU speed settings: on for the convolutional models' GPU profiles, inert on a CPU."""

import pytest
import torch
from torch import nn

from colab_utils.config import load_config, read_model_config
from colab_utils.engine.speed import apply_speed_settings

CONVOLUTIONAL = ("sportlight_hrnet57", "homography", "reid", "ball3d", "detr")
SEQUENCE = ("baller2vec", "gnn")


@pytest.fixture
def restore_cudnn_benchmark():
    before = torch.backends.cudnn.benchmark
    yield
    torch.backends.cudnn.benchmark = before


def gpu_profiles(model: str) -> list[str]:
    _, profiles = read_model_config(model)
    return ["base", *(name for name in profiles if name not in ("cpu", "smoke"))]


@pytest.mark.parametrize("model", CONVOLUTIONAL + SEQUENCE)
def test_gpu_profiles_of_convolutional_models_autotune_and_go_channels_last(model):
    assert "t4" in gpu_profiles(model)
    for profile in gpu_profiles(model):
        train = load_config(model, profile, verbose=False).train
        on = model in CONVOLUTIONAL
        assert bool(train.cudnn_benchmark) == bool(train.channels_last) == on, profile
        assert not train.compile, profile  # on only once a GPU shows it wins over a session


def test_on_a_cpu_the_settings_change_nothing(restore_cudnn_benchmark):
    torch.backends.cudnn.benchmark = False
    network = nn.Conv2d(3, 8, 3)
    train = load_config("sportlight_hrnet57", "t4", verbose=False).train
    assert apply_speed_settings(network, train, torch.device("cpu")) == torch.contiguous_format
    assert network.weight.is_contiguous() and not torch.backends.cudnn.benchmark


def test_on_cuda_the_network_and_its_inputs_go_channels_last(restore_cudnn_benchmark):
    network = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
    train = load_config("homography", "t4", verbose=False).train
    memory_format = apply_speed_settings(network, train, torch.device("cuda"))  # no GPU needed to set them
    assert memory_format == torch.channels_last and torch.backends.cudnn.benchmark
    assert network[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert not network[0].weight.is_contiguous()
