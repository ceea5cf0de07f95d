"""The training loader's throughput, built as training builds it."""

from __future__ import annotations

import time

import torch
from omegaconf import DictConfig

from colab_utils.engine.contract import Task
from colab_utils.engine.sampling import ResumableBatchSampler, SampleDataset
from colab_utils.engine.trainer import make_loader


def loader_rate(task: Task, cfg: DictConfig, train_set: SampleDataset, batches: int) -> tuple[float, object]:
    """Items/s of the training loader, timed after its first batch (workers started), and that batch.

    Same sampler, workers and seeding as training; it runs into further epochs when one epoch
    has fewer than ``batches`` batches.
    """
    train_set.seed = int(cfg.seed)
    sampler = ResumableBatchSampler(task.batch_plan(cfg, train_set))
    loader = make_loader(task, train_set, sampler, cfg, torch.device("cpu"))
    done, items, epoch, started, first = 0, 0, 0, None, None
    while done < batches:
        sampler.set_epoch(epoch)
        for batch_indices, batch in zip(sampler, loader, strict=True):
            if started is None:
                started, first = time.perf_counter(), batch
                continue
            done, items = done + 1, items + len(batch_indices)
            if done == batches:
                break
        epoch += 1
    return items / (time.perf_counter() - started), first
