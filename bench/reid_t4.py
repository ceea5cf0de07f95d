"""The reid model at its T4 profile: loader speed, training FLOPs, implied T4 epoch time.

* Loader: crops/s delivered by the training DataLoader with the profile's 2 workers (PNG decode,
  resize to 256x128, flip, translation, random erasing, collation), on synthetic reid-2023 crops
  written in the real format (median crop 75 px tall, like broadcast players), and the same work
  in one process, per second of wall time and per second of CPU time (the cost of a crop on one
  core, which other jobs on a shared machine do not distort).
* FLOPs: one training step (forward, losses, backward) of OSNet x1.0 on a batch of 64 crops,
  counted on PyTorch's meta device with the engine's corrected convolution-backward formula
  (the triplet miner is skipped there: B^2 x D operations).
* Implied T4 crops/s and time per epoch at 65 TFLOP/s fp16 peak for several efficiencies (the
  engine's estimate assumes 15 %), next to the time the loader needs. SoccerNet does not publish
  crop counts per split; the epoch size is estimated from the zip sizes (train 12.12 GB of the
  18.63 GB holding 340,993 crops), overridable with --train-crops.
* Peak GPU memory needs a GPU; none was lent to this work, so it is not measured here.

    python bench/reid_t4.py [--batches 20] [--actions 300]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch
from measure import loader_rate

from colab_utils.config import load_config
from colab_utils.engine.estimate import ASSUMED_EFFICIENCY, PEAK_TFLOPS, training_flops
from colab_utils.pipeline import prepare_data
from colab_utils.registry import get_task

TRAIN_CROPS = round(340_993 * 12.12 / (12.12 + 2.35 + 2.41 + 1.75))
VALID_CROPS = round(340_993 * 2.35 / (12.12 + 2.35 + 2.41 + 1.75))


def one_process_rate(task, cfg, crops: int) -> tuple[float, float]:
    """Crops/s in this process per second of wall time and per second of CPU time (what one core
    delivers when nothing else runs: on a shared machine the two differ)."""
    train_set, _ = task.datasets(cfg)
    train_set.seed = int(cfg.seed)
    torch.set_num_threads(1)  # as in a loader worker
    wall, cpu = time.perf_counter(), time.process_time()
    for index in range(crops):
        train_set[(0, index % len(train_set))]
    return crops / (time.perf_counter() - wall), crops / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=20, help="batches to time")
    parser.add_argument("--actions", type=int, default=300, help="synthetic training actions to generate")
    parser.add_argument("--train-crops", type=int, default=TRAIN_CROPS, help="crops in one epoch")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COLAB_UTILS_DRIVE"] = f"{tmp}/drive"
        os.environ["COLAB_UTILS_DATA"] = f"{tmp}/data"
        overrides = [
            "model.pretrained=false",
            "data.source=synthetic",
            f"data.synthetic_actions.train={args.actions}",
            "data.synthetic_actions.valid=8",
        ]
        cfg = load_config("reid", "t4", overrides, verbose=False)
        prepare_data(cfg)
        task = get_task(cfg.task)
        size = int(cfg.train.batch_size)
        width, height = (int(v) for v in cfg.data.input_size)
        crops_per_s, batch = loader_rate(task, cfg, task.datasets(cfg)[0], args.batches)
        single, per_core = one_process_rate(task, cfg, 500)
        workers, cores = int(cfg.data.num_workers), os.cpu_count()
        print(f"loader  {crops_per_s:.0f} crops/s with {workers} workers on {cores} cores (batch {size} =")
        print(
            f"        {size // int(cfg.data.instances_per_identity)} identities x "
            f"{cfg.data.instances_per_identity} crops at {height}x{width})"
        )
        print(
            f"        one process: {single:.0f} crops/s of wall time, {per_core:.0f} per CPU second "
            f"({1000 / per_core:.2f} ms of one core per crop)"
        )
        flops = training_flops(task, cfg, batch)
        per_crop = flops / size
        print(
            f"train   {flops / 1e9:.0f} GFLOP per batch of {size}, {per_crop / 1e9:.2f} GFLOP per crop "
            f"({cfg.model.arch}: forward + losses + backward)"
        )
        epoch_flops = per_crop * args.train_crops + per_crop / 3 * VALID_CROPS
        for efficiency in (0.10, ASSUMED_EFFICIENCY, 0.25):
            rate = PEAK_TFLOPS["T4"] * 1e12 * efficiency / per_crop
            minutes = epoch_flops / (PEAK_TFLOPS["T4"] * 1e12 * efficiency) / 60
            print(
                f"T4      {rate:5.0f} crops/s at {efficiency:.0%} of 65 TFLOP/s: {minutes:4.1f} min per "
                f"epoch of {args.train_crops:,} crops (+ {VALID_CROPS:,} validation crops)"
            )
        loader_minutes = (args.train_crops + VALID_CROPS) / crops_per_s / 60
        gpu_rate = PEAK_TFLOPS["T4"] * 1e12 * ASSUMED_EFFICIENCY / per_crop
        pace = "the loader sets the pace" if crops_per_s < gpu_rate else "the GPU sets the pace"
        print(
            f"loader  {loader_minutes:4.1f} min per epoch at the measured rate: {pace} "
            f"({crops_per_s / gpu_rate:.0%} of the T4's {gpu_rate:.0f} crops/s at "
            f"{ASSUMED_EFFICIENCY:.0%})"
        )
        print("memory  peak GPU memory at the t4 profile: not measured (no GPU was lent to this work)")


if __name__ == "__main__":
    main()
