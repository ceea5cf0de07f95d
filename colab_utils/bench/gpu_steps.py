"""N training steps of one model through the real loop, timed, with the GPU memory they took."""

from __future__ import annotations

import contextlib
import io
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from colab_utils.bench.measure import model_bench, prepare_quietly
from colab_utils.config import load_config
from colab_utils.engine.callbacks import BatchEnd, Callback
from colab_utils.engine.callbacks.base import TrainerView
from colab_utils.engine.checkpoint import CheckpointStore
from colab_utils.engine.oom import free_cuda_memory
from colab_utils.engine.trainer import fit
from colab_utils.stepdown_record import read_stepdown

WARMUP_STEPS = 3  # cuDNN and allocator warm-up, kept out of the step time
GIB = 1024**3
# what every proof run sets: fp16 with GradScaler as on a T4, no validation, no plots
PROOF_OVERRIDES = (
    "train.amp=fp16",
    "train.val_every_epochs=1000000",
    "checkpoint.every_minutes=1000000",
    "logging.live_plot=false",
    "logging.progress=false",
)


class StepTimes(Callback):
    """Each batch's whole step and the part of it spent waiting for the loader."""

    def __init__(self) -> None:
        self.steps: list[BatchEnd] = []

    def on_train_start(self, trainer: TrainerView) -> None:
        """Peak memory counts from here: not the attempt an out-of-memory error ended, and not the
        memory the allocator still caches from the model measured before."""
        self.steps.clear()
        if torch.cuda.is_available():
            free_cuda_memory()
            torch.cuda.reset_peak_memory_stats()

    def on_batch_end(self, trainer: TrainerView, batch: BatchEnd) -> None:
        self.steps.append(batch)


@dataclass(frozen=True)
class StepsResult:
    """What N fp16 steps of one model at one profile took on this GPU."""

    model: str
    profile: str
    settings: tuple[str, ...]
    status: str
    steps: int
    batch_size: int
    step_s: float  # median over the steps after warm-up, loader waits included
    gpu_step_s: float  # the same without the loader waits
    items_per_s: float  # batch over gpu_step_s: what the GPU alone sustains
    loader_wait_share: float
    peak_allocated_gib: float
    peak_reserved_gib: float
    skipped_steps: int  # optimizer steps GradScaler skipped (inf/NaN gradients)
    stepdowns: tuple[dict, ...]  # the out-of-memory rungs taken, as the run folder records them
    final_loss: float
    seconds: float  # wall time of the whole run, data step and start-up included


def skipped_steps(scaler_state: dict, optimizer_steps: int) -> int:
    """Steps GradScaler skipped, from its scale: each skip halves it, and it grows only every
    ``growth_interval`` clean steps, which a short proof run never reaches. A disabled scaler
    (fp32, bf16) keeps no state and skips nothing."""
    if not scaler_state:
        return 0
    if optimizer_steps >= int(scaler_state["growth_interval"]):
        raise ValueError("the skipped steps are only known from the scale within one growth interval")
    start = 2.0**16  # GradScaler's initial scale
    halvings = math.log(start / float(scaler_state["scale"])) / math.log(
        1 / float(scaler_state["backoff_factor"])
    )
    return round(halvings)


def run_steps(
    model: str, profile: str, steps: int, settings: Sequence[str] = (), run_name: str = "gpu-proof"
) -> StepsResult:
    """Prepare the model's offline bench data and train ``steps`` batches at ``profile`` with ``settings``.

    Expects ``COLAB_UTILS_DRIVE`` and ``COLAB_UTILS_DATA`` to point at scratch folders.
    """
    started = time.perf_counter()
    extra = [f"train.max_steps={steps}", f"run.name={run_name}", *settings]
    cfg = load_config(
        model, profile, [*model_bench(model).overrides, *PROOF_OVERRIDES, *extra], verbose=False
    )
    task = prepare_quietly(cfg)
    times = StepTimes()
    with contextlib.redirect_stdout(io.StringIO()):
        result = fit(cfg, task, callbacks=[times])
    timed = times.steps[WARMUP_STEPS:] or times.steps
    step_s = statistics.median(b.step_s for b in timed)
    gpu_step_s = statistics.median(b.step_s - b.data_wait_s for b in timed)
    final = CheckpointStore(Path(cfg.run.dir) / "checkpoints").newest_valid()
    batch_size = int(result.config.train.batch_size)
    cuda = torch.cuda.is_available()
    return StepsResult(
        model=model,
        profile=str(cfg.profile),
        settings=tuple(settings),
        status=result.status,
        steps=result.global_step,
        batch_size=batch_size,
        step_s=step_s,
        gpu_step_s=gpu_step_s,
        items_per_s=batch_size / gpu_step_s,
        loader_wait_share=sum(b.data_wait_s for b in timed) / sum(b.step_s for b in timed),
        peak_allocated_gib=torch.cuda.max_memory_allocated() / GIB if cuda else 0.0,
        peak_reserved_gib=torch.cuda.max_memory_reserved() / GIB if cuda else 0.0,
        skipped_steps=skipped_steps(final.payload["scaler"], final.payload["progress"]["optimizer_steps"]),
        stepdowns=tuple(step["overrides"] for step in read_stepdown(cfg.run.dir)["steps"]),
        final_loss=times.steps[-1].loss,
        seconds=time.perf_counter() - started,
    )
