"""The HRNet-57 calibration model at its T4 profile: loader speed, FLOPs, implied T4 epoch time.

* Loader: images/s delivered by the training DataLoader (JPEG decode, target derivation,
  augmentation, resize and pad to 736x416) with the profile's 2 workers, on 960x540 frames
  in SoccerNet's format (synthetic, generated into a temporary folder).
* FLOPs: one training step (forward, loss, backward) of HRNet-W48 at 736x416, counted on
  PyTorch's meta device.
* Implied T4 time per epoch of calibration-2023's 16,463 training frames (+ 3,212 validation
  frames, forward only) at 65 TFLOP/s fp16 peak, for several efficiencies; the trainer's own
  estimate assumes 15 %.

    python bench/calibration_t4.py [--frames 96] [--batches 40]
"""

from __future__ import annotations

import argparse
import os
import tempfile

from measure import loader_rate

from colab_utils.config import load_config
from colab_utils.engine.estimate import ASSUMED_EFFICIENCY, PEAK_TFLOPS, training_flops
from colab_utils.pipeline import prepare_data
from colab_utils.registry import get_task

TRAIN_FRAMES, VAL_FRAMES = 16_463, 3_212


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=96, help="synthetic training frames to generate")
    parser.add_argument("--batches", type=int, default=40, help="batches to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COLAB_UTILS_DRIVE"] = f"{tmp}/drive"
        os.environ["COLAB_UTILS_DATA"] = f"{tmp}/data"
        overrides = [
            "data.source=synthetic",
            f"data.synthetic_frames.train={args.frames}",
            "logging.progress=false",
        ]
        cfg = load_config("sportlight_hrnet57", "t4", overrides, verbose=False)
        prepare_data(cfg)
        task = get_task(cfg.task)
        per_second, first = loader_rate(task, cfg, task.datasets(cfg)[0], args.batches)
        print(
            f"loader  {per_second:.1f} images/s, {cfg.data.num_workers} workers on {os.cpu_count()} cores "
            f"(batch {cfg.train.batch_size}, {list(cfg.derived.padded_size)} padded input)"
        )
        flops = training_flops(task, cfg, first) / cfg.train.batch_size
        print(
            f"train   {flops / 1e9:.0f} GFLOP per image (forward + loss + backward, hrnet_w48 at "
            f"{cfg.derived.padded_size[0]}x{cfg.derived.padded_size[1]})"
        )
        epoch_flops = flops * TRAIN_FRAMES + flops / 3 * VAL_FRAMES
        for efficiency in (0.10, ASSUMED_EFFICIENCY, 0.25):
            minutes = epoch_flops / (PEAK_TFLOPS["T4"] * 1e12 * efficiency) / 60
            print(
                f"T4      {minutes:5.1f} min per epoch at {efficiency:.0%} of 65 TFLOP/s "
                f"(needs {TRAIN_FRAMES / (minutes * 60):.1f} images/s from the loader)"
            )


if __name__ == "__main__":
    main()
