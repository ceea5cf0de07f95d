"""The training loader's throughput, built as training builds it."""

from __future__ import annotations

import torch
from omegaconf import DictConfig

from colab_utils.engine.contract import Task
from colab_utils.engine.estimate import time_loader
from colab_utils.engine.sampling import ResumableBatchSampler, SampleDataset
from colab_utils.engine.trainer import make_loader


def loader_rate(task: Task, cfg: DictConfig, train_set: SampleDataset, batches: int) -> tuple[float, object]:
    """Items/s of the training loader over ``batches`` batches after its first, and that batch.

    Same sampler, workers and seeding as training.
    """
    train_set.seed = int(cfg.seed)
    sampler = ResumableBatchSampler(task.batch_plan(cfg, train_set))
    loader = make_loader(task, train_set, sampler, cfg, torch.device("cpu"))
    timing = time_loader(sampler, loader, batches=batches)
    return timing.rate, timing.first_batch
