"""One model's bench numbers, and what they imply for a GPU at the engine's assumed efficiency."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass

from omegaconf import DictConfig

from colab_utils.bench.loader import loader_rate
from colab_utils.bench.spec import ModelBench
from colab_utils.config import load_config
from colab_utils.engine.contract import Task
from colab_utils.engine.estimate import ASSUMED_EFFICIENCY, PEAK_TFLOPS, training_flops
from colab_utils.engine.measured_gpu import measured_ceiling, slowdown
from colab_utils.registry import get_task, model_package

DEFAULT_GPU = "T4"


@dataclass(frozen=True)
class Measured:
    """Measured rates and counted FLOPs of one model at one profile, with the epoch they imply."""

    model: str
    profile: str
    gpu: str
    items: str
    workers: int
    cores: int
    loader_rate: float  # items/s on this machine
    flops: float  # training FLOPs per item (forward + loss + backward)
    validation_flops: float  # FLOPs per validation item
    train_items: int  # one epoch of the real data
    validation_items: int
    ceiling: float | None = None  # items/s a faster GPU was measured to train (engine/measured_gpu.py)
    notes: tuple[str, ...] = ()

    @property
    def gpu_flops(self) -> float:
        return PEAK_TFLOPS[self.gpu] * 1e12 * ASSUMED_EFFICIENCY

    @property
    def flop_demand(self) -> float:
        """Training items/s the GPU consumes at the assumed efficiency, by the FLOP count."""
        return self.gpu_flops / self.flops

    @property
    def ceiling_binds(self) -> bool:
        return slowdown(self.flop_demand, self.ceiling) > 1

    @property
    def demand(self) -> float:
        """Training items/s the GPU consumes: the FLOP count's, or the measured ceiling where lower."""
        return self.flop_demand / slowdown(self.flop_demand, self.ceiling)

    @property
    def ratio(self) -> float:
        """Loader rate over demand: below 1 the GPU waits for data."""
        return self.loader_rate / self.demand

    @property
    def gpu_minutes(self) -> float:
        """The epoch's FLOPs at the assumed efficiency, slowed to the measured ceiling where it binds."""
        work = self.flops * self.train_items + self.validation_flops * self.validation_items
        return work / self.gpu_flops / 60 * slowdown(self.flop_demand, self.ceiling)

    @property
    def loader_minutes(self) -> float:
        """Training and validation items at the training loader's rate (validation assumed as fast)."""
        return (self.train_items + self.validation_items) / self.loader_rate / 60

    @property
    def bound(self) -> str:
        return "loader" if self.loader_minutes > self.gpu_minutes else "GPU"


def model_bench(model: str) -> ModelBench:
    """The model's declared bench needs, or the defaults when its package declares none."""
    found = model_package(model)
    return found.load(found.bench) if found.bench else ModelBench()


def prepare_quietly(cfg: DictConfig) -> Task:
    """The config's task, with its (offline, synthetic) data prepared without the data summary."""
    task = get_task(cfg.task)
    with contextlib.redirect_stdout(io.StringIO()):
        task.prepare_data(cfg)
    return task


def _epoch(spec: ModelBench, cfg: object, train_set: object, validation_set: object) -> tuple[int, int]:
    if callable(spec.epoch):
        return spec.epoch(cfg, train_set)
    if spec.epoch is not None:
        return spec.epoch
    return len(train_set), len(validation_set) if validation_set is not None else 0


def measure(model: str, profile: str, batches: int, overrides: Sequence[str] = ()) -> Measured:
    """Prepare the model's offline data, time its loader and count one training step's FLOPs.

    Expects ``COLAB_UTILS_DRIVE`` and ``COLAB_UTILS_DATA`` to point at scratch folders.
    """
    spec = model_bench(model)
    cfg = load_config(model, profile, [*spec.overrides, *overrides], verbose=False)
    task = prepare_quietly(cfg)  # the data's summary would split the block
    train_set, validation_set = task.datasets(cfg)
    rate, batch = loader_rate(task, cfg, train_set, batches)
    flops = training_flops(task, cfg, batch) / int(cfg.train.batch_size)  # the plans drop partial batches
    validation = spec.validation_flops(task, cfg, batch) if spec.validation_flops else flops / 3
    train_items, validation_items = _epoch(spec, cfg, train_set, validation_set)
    gpu = str(cfg.profile).upper() if str(cfg.profile).upper() in PEAK_TFLOPS else DEFAULT_GPU
    return Measured(
        model=model,
        profile=str(cfg.profile),
        gpu=gpu,
        items=spec.items,
        workers=int(cfg.data.num_workers),
        cores=os.cpu_count() or 1,
        loader_rate=rate,
        flops=flops,
        validation_flops=validation,
        train_items=train_items,
        validation_items=validation_items,
        ceiling=measured_ceiling(model, str(cfg.profile), PEAK_TFLOPS[gpu]),
        notes=tuple(spec.extra(task, cfg, batch)) if spec.extra else (),
    )
