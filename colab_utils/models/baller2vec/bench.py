"""The bench's view of baller2vec: synthetic matches, the open data's epoch, the validation rollout.

Validation rolls each window out one step at a time (``data.future`` forward passes), which
teacher-forced training never pays for: the bench counts it instead of a third of a step.
"""

from __future__ import annotations

import torch
from argus.utils import deep_to
from omegaconf import DictConfig
from torch.utils.flop_counter import FlopCounterMode

from colab_utils.bench.spec import ModelBench
from colab_utils.engine.contract import Task
from colab_utils.engine.estimate import FLOP_FIXES
from colab_utils.engine.sampling import SampleDataset
from colab_utils.models.baller2vec.rollout import rollout
from colab_utils.tracking.bench import open_data_epoch


def rollout_flops(task: Task, cfg: DictConfig, batch: dict) -> float:
    """FLOPs of rolling out one validation window (forward passes only), on the meta device."""
    model = task.build_model(cfg, torch.device("cpu"))
    model.set_device(torch.device("meta"))
    one = deep_to({key: value[:1] for key, value in batch.items()}, device=torch.device("meta"))
    with FlopCounterMode(display=False, custom_mapping=FLOP_FIXES) as counter:
        rollout(model.get_nn_module().eval(), one, int(cfg.data.history), int(cfg.data.future))
    return float(counter.get_total_flops())


def epoch(cfg: DictConfig, train_set: SampleDataset) -> tuple[int, int]:
    return open_data_epoch(cfg, len(train_set), int(cfg.data.stride), int(cfg.data.valid_stride))


BENCH = ModelBench(
    items="windows",
    overrides=(
        "data.source=synthetic",
        "data.synthetic.matches=3",
        "data.synthetic.minutes=10.0",
        "data.valid_matches=1",
    ),
    epoch=epoch,
    validation_flops=rollout_flops,
    learning=("data.synthetic.minutes=10.0", "train.epochs=6"),
)
