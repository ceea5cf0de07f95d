"""The bench's view of reid: synthetic crops, reid-2023's epoch, and a crop's cost on one core.

SoccerNet does not publish crop counts per split: the epoch is estimated from the zip sizes
(train 12.12 GB of the 18.63 GB that hold 340,993 crops). On a shared machine the loader's
rate depends on the other jobs; the CPU time per crop in one process does not.
"""

from __future__ import annotations

import time

import torch
from omegaconf import DictConfig

from colab_utils.bench.spec import ModelBench
from colab_utils.engine.contract import Task

ZIP_GB = {"train": 12.12, "valid": 2.35, "test": 2.41, "challenge": 1.75}
ALL_CROPS = 340_993
ONE_PROCESS_CROPS = 500


def _crops(split: str) -> int:
    return round(ALL_CROPS * ZIP_GB[split] / sum(ZIP_GB.values()))


def extra(task: Task, cfg: DictConfig, batch: object) -> list[str]:
    """Crops/s in this process per second of wall time and per second of CPU time."""
    train_set, _ = task.datasets(cfg)
    train_set.seed = int(cfg.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a loader worker
    wall, cpu = time.perf_counter(), time.process_time()
    for index in range(ONE_PROCESS_CROPS):
        train_set[(0, index % len(train_set))]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    torch.set_num_threads(threads)
    return [
        f"one process: {ONE_PROCESS_CROPS / wall:.0f} crops/s of wall time, {ONE_PROCESS_CROPS / cpu:.0f} "
        f"per CPU second ({cpu / ONE_PROCESS_CROPS * 1000:.2f} ms of one core per crop)"
    ]


BENCH = ModelBench(
    items="crops",
    overrides=(
        "model.init_from=none",
        "data.source=synthetic",
        "data.synthetic_actions.train=300",
        "data.synthetic_actions.valid=8",
    ),
    epoch=(_crops("train"), _crops("valid")),
    extra=extra,
    learning=("data.synthetic_actions.train=48", "train.epochs=8"),
)
