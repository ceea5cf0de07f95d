"""What every ``bench/<model>_t4.py`` measures the same way: the training loader's throughput."""

from __future__ import annotations

import time

import torch
from omegaconf import DictConfig

from colab_utils.engine.contract import Task
from colab_utils.engine.sampling import ResumableBatchSampler, SampleDataset
from colab_utils.engine.trainer import make_loader


def loader_rate(task: Task, cfg: DictConfig, train_set: SampleDataset, batches: int) -> tuple[float, object]:
    """Samples/s of the training loader, timed after its workers started, and its first batch.

    The loader is built as training builds it (same sampler, workers and seeding); it runs
    into further epochs when one epoch has fewer than ``batches`` batches.
    """
    train_set.seed = int(cfg.seed)
    sampler = ResumableBatchSampler(task.batch_plan(cfg, train_set))
    loader = make_loader(task, train_set, sampler, cfg, torch.device("cpu"))
    done, epoch, started, first = 0, 0, None, None
    while done < batches:
        sampler.set_epoch(epoch)
        for batch in loader:
            if started is None:
                started, first = time.perf_counter(), batch
                continue
            done += 1
            if done == batches:
                break
        epoch += 1
    return batches * int(cfg.train.batch_size) / (time.perf_counter() - started), first
