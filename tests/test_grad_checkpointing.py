"""model.grad_checkpointing: the same training in less memory, for every model that has it.

Each model trains a few steps of its smoke run (the task's own batches, loss, optimizer and
clipping) with and without checkpointing, from the same initial weights; the weights and the
batch-norm statistics must end equal, and checkpointing must keep fewer bytes for the backward.
"""

from __future__ import annotations

import pytest
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import default_collate

from colab_utils.config import load_config
from colab_utils.grad_checkpointing import recompute_in_backward
from colab_utils.models.sportlight_hrnet57.predictor import KeypointCalibration
from colab_utils.pipeline import prepare_data
from colab_utils.registry import get_task

STEPS = 3
SMALL_DATA = {  # the smoke runs' data, smaller still
    "sportlight_hrnet57": ["data.synthetic_frames.train=4", "data.synthetic_frames.valid=2"],
    "homography": ["data.synthetic_frames.train=4", "data.synthetic_frames.valid=2"],
    "detr": ["model.dropout=0.1"],  # dropout: the recomputation must draw the same masks
    "reid": ["data.synthetic_actions.train=4", "data.synthetic_actions.valid=4", "train.batch_size=8"],
    "ball3d": ["data.clips.train=4", "data.clips.valid=2", "data.frames=8", "model.dropout=0.1"],
    "baller2vec": ["model.dropout=0.1"],
}


def saved_bytes(model, batch) -> int:
    """Bytes autograd keeps for the backward pass of one training forward (what checkpointing saves)."""
    total = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss, _, _ = model.forward_loss(batch)
    loss.backward()
    model.optimizer.zero_grad(set_to_none=True)
    return total


def train(cfg: DictConfig, batches: list) -> tuple[dict[str, torch.Tensor], int]:
    """The network's state after a step on each batch, and the bytes the first forward kept."""
    task = get_task(cfg.task)
    torch.manual_seed(int(cfg.seed))
    model = task.build_model(cfg, torch.device("cpu"))
    model.clip_grad_norm = cfg.train.clip_grad_norm
    kept = saved_bytes(model, batches[0])
    torch.manual_seed(int(cfg.seed))
    for batch in batches:
        model.train_step(batch)
    return model.get_nn_module().state_dict(), kept


@pytest.mark.parametrize("model", list(SMALL_DATA))
def test_checkpointed_training_reaches_the_same_weights_keeping_less(folders, model):
    cfg = load_config(model, "smoke", SMALL_DATA[model], verbose=False)
    prepare_data(cfg)
    task = get_task(cfg.task)
    train_set, _ = task.datasets(cfg)
    collate = task.collate_fn() or default_collate
    plan = task.batch_plan(cfg, train_set).batches(0)
    batches = [collate([train_set[(0, index)] for index in plan[step % len(plan)]]) for step in range(STEPS)]

    plain, plain_kept = train(cfg, batches)
    checkpointed_cfg = load_config(model, "smoke", [*SMALL_DATA[model], "model.grad_checkpointing=true"])
    checkpointed, checkpointed_kept = train(checkpointed_cfg, batches)

    assert plain.keys() == checkpointed.keys()
    for name, value in plain.items():
        torch.testing.assert_close(checkpointed[name], value, rtol=1e-5, atol=1e-6, msg=name)
    assert checkpointed_kept < 0.7 * plain_kept


def test_batch_norm_statistics_move_once_per_step_as_without_checkpointing():
    def step(checkpointed: bool) -> nn.Module:
        torch.manual_seed(0)
        stage = nn.Sequential(nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
        net = nn.Sequential(nn.Conv2d(3, 4, 3), stage)
        if checkpointed:
            recompute_in_backward([net[1]])
        net(torch.randn(2, 3, 8, 8)).sum().backward()
        return net

    plain, checkpointed = step(False), step(True)
    norm = checkpointed[1][1]
    assert int(norm.num_batches_tracked) == 1
    torch.testing.assert_close(norm.running_mean, plain[1][1].running_mean, rtol=0, atol=0)
    torch.testing.assert_close(norm.running_var, plain[1][1].running_var, rtol=0, atol=0)
    torch.testing.assert_close(checkpointed[0].weight.grad, plain[0].weight.grad, rtol=0, atol=0)


def test_a_model_exported_before_the_setting_existed_still_loads(folders):
    cfg = load_config("sportlight_hrnet57", "smoke", verbose=False)
    task = get_task(cfg.task)
    config = OmegaConf.to_container(cfg, resolve=True)
    del config["model"]["grad_checkpointing"]
    state = task.build_model(cfg, torch.device("cpu")).get_nn_module().state_dict()
    payload = {"task": cfg.task, "meta": task.export_meta(cfg), "config": config, "state_dict": state}
    predictor = KeypointCalibration(payload, "cpu")
    assert predictor.cfg.model.grad_checkpointing is False
