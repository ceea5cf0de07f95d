"""baller2vec at its T4 profile: loader speed, training FLOPs, rollout FLOPs, implied T4 epoch time.

* Loader: windows/s delivered by the training DataLoader with the profile's 2 workers (each
  window: 75 steps x 23 agents cut from in-memory match arrays, augmented, turned into tokens).
  The matches are synthetic (no network here) but have the open data's format and density.
* FLOPs: one training step (forward, the three losses, backward) of the t4 network on a real
  batch's shapes, counted on PyTorch's meta device; and one validation window's rollout (50
  forward passes over 26..75 steps), which teacher-forced training never pays for.
* Implied T4 time per epoch at 65 TFLOP/s fp16 peak for several efficiencies (the project's
  assumption is 15 %), for an epoch of the open data: 8 training matches with windows every
  second and 2 held-out matches with a window every 5 s. Window counts per match are scaled from
  the synthetic matches (tracked share, replays) to 95 minutes of play, an assumption stated below.
* Peak GPU memory needs a GPU; none was lent to this work, so it is not measured here.

    python bench/baller2vec_t4.py [--batches 12] [--minutes 10]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch
from argus.utils import deep_to
from measure import loader_rate
from torch.utils.flop_counter import FlopCounterMode

from colab_utils.config import load_config
from colab_utils.engine.estimate import ASSUMED_EFFICIENCY, PEAK_TFLOPS, training_flops
from colab_utils.models.baller2vec.rollout import rollout
from colab_utils.registry import get_task

TRAIN_MATCHES, VALID_MATCHES, MATCH_MINUTES = 8, 2, 95.0


def rollout_flops(task, cfg, batch) -> float:
    """FLOPs of rolling out one validation window (forward passes only)."""
    model = task.build_model(cfg, torch.device("cpu"))
    model.set_device(torch.device("meta"))
    one = deep_to({key: value[:1] for key, value in batch.items()}, device=torch.device("meta"))
    with FlopCounterMode(display=False) as counter:
        rollout(model.get_nn_module().eval(), one, int(cfg.data.history), int(cfg.data.future))
    return float(counter.get_total_flops())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=12, help="batches to time")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of each synthetic match")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COLAB_UTILS_DRIVE"] = f"{tmp}/drive"
        os.environ["COLAB_UTILS_DATA"] = f"{tmp}/data"
        synthetic = [
            "data.source=synthetic",
            "data.synthetic.matches=3",
            f"data.synthetic.minutes={args.minutes}",
            "data.valid_matches=1",
        ]
        cfg = load_config("baller2vec", "t4", synthetic, verbose=False)
        task = get_task(cfg.task)
        started = time.perf_counter()
        task.prepare_data(cfg)
        took = time.perf_counter() - started
        print(f"data    3 synthetic matches of {args.minutes:g} min generated and parsed in {took:.0f} s")
        size, steps = int(cfg.train.batch_size), int(cfg.data.history) + int(cfg.data.future)
        train_set, _ = task.datasets(cfg)
        train_windows = len(train_set)
        windows_per_s, batch = loader_rate(task, cfg, train_set, args.batches)
        workers, cores = cfg.data.num_workers, os.cpu_count()
        print(f"loader  {windows_per_s:.0f} windows/s ({steps} steps x 23 agents), {workers} workers")
        print(f"        on {cores} cores")
        per_batch = training_flops(task, cfg, batch)
        per_window = per_batch / size
        print(f"train   {per_batch / 1e9:.0f} GFLOP per batch of {size} ({per_window / 1e9:.1f} per window:")
        shape = f"{cfg.model.layers} layers, d={cfg.model.d_model}, {steps * 23} tokens"
        print(f"        forward, losses, backward; {shape})")
        per_rollout = rollout_flops(task, cfg, batch)
        print(
            f"rollout {per_rollout / 1e9:.0f} GFLOP per validation window ({cfg.data.future} forward passes)"
        )
        per_match = train_windows / 2 * MATCH_MINUTES / args.minutes  # 2 training matches above
        train_epoch = int(per_match * TRAIN_MATCHES)
        valid_epoch = int(per_match * cfg.data.stride / cfg.data.valid_stride * VALID_MATCHES)
        print(
            f"epoch   ~{train_epoch:,} training + ~{valid_epoch:,} validation windows (assumed: "
            f"{TRAIN_MATCHES} + {VALID_MATCHES} matches of {MATCH_MINUTES:g} min, tracked like the synthetic"
            " ones)"
        )
        epoch_flops = per_window * train_epoch + per_rollout * valid_epoch
        for efficiency in (0.10, ASSUMED_EFFICIENCY, 0.25):
            seconds = epoch_flops / (PEAK_TFLOPS["T4"] * 1e12 * efficiency)
            train_share = per_window * train_epoch / epoch_flops
            print(
                f"T4      {seconds:6.0f} s per epoch at {efficiency:.0%} of 65 TFLOP/s "
                f"({train_share:.0%} training, the rest the validation rollout)"
            )
        loader_seconds = train_epoch / windows_per_s
        print(f"loader  {loader_seconds:6.0f} s per epoch of training windows at the measured rate")
        print("memory  peak GPU memory at the t4 profile: not measured (no GPU was lent to this work)")


if __name__ == "__main__":
    main()
