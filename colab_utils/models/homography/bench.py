"""The bench's view of homography: synthetic frames, calibration-2023's epoch, and whether the
recipe's batch fits a T4's memory in fp16 (estimated without a GPU)."""

from __future__ import annotations

from omegaconf import DictConfig

from colab_utils.bench.memory import memory_lines
from colab_utils.bench.spec import ModelBench
from colab_utils.calibration.source import SPLIT_FRAMES
from colab_utils.engine.contract import Task


def extra(task: Task, cfg: DictConfig, batch: object) -> list[str]:
    return memory_lines(task, cfg, [int(cfg.train.batch_size)])


BENCH = ModelBench(
    items="images",
    overrides=(
        "data.source=synthetic",
        "data.synthetic_frames.train=96",
        "model.init_from=none",  # same shapes and FLOPs; no download
        "logging.progress=false",
    ),
    epoch=SPLIT_FRAMES,
    extra=extra,
    learning=("data.synthetic_frames.train=64", "data.synthetic_frames.valid=16", "train.epochs=8"),
)
