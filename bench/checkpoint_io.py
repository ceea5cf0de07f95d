"""Save/load time and size of a full training checkpoint of the HRNet-W48 calibration model.

The model: timm's hrnet_w48 backbone (features_only) plus a 1x1 head, ~65 M parameters,
with Adam state after one step (two moments per parameter), as the trainer saves it.
Prints seconds and megabytes, and the checkpoint overhead as a share of training time
at the default period (checkpoint.every_minutes=10).

    python bench/checkpoint_io.py [--folder /path/on/the/disk/to/test] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import timm
import torch

from colab_utils.engine.checkpoint import CheckpointStore, read_checkpoint
from colab_utils.engine.rng import capture_rng_state


def build_state() -> tuple[dict, int]:
    backbone = timm.create_model("hrnet_w48", pretrained=False, features_only=True, feature_location="")
    channels = sum(backbone.feature_info.channels())
    model = torch.nn.Sequential(backbone, torch.nn.Identity())
    head = torch.nn.Conv2d(channels, 58, 1)
    params = list(model.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=1e-4)
    for p in params:
        p.grad = torch.zeros_like(p)
    optimizer.step()
    state = {
        "model": {**model.state_dict(), **{f"head.{k}": v for k, v in head.state_dict().items()}},
        "optimizer": optimizer.state_dict(),
        "rng": capture_rng_state(),
        "progress": {"epoch": 3, "batch": 1200, "global_step": 50000},
        "config": "model: {backbone: hrnet_w48}\n" * 50,
    }
    return state, sum(p.numel() for p in params)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--folder", type=Path, default=None, help="where to write (default: a temp folder)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--period-minutes", type=float, default=10.0)
    args = parser.parse_args()
    state, n_params = build_state()
    with tempfile.TemporaryDirectory(dir=args.folder) as folder:
        store = CheckpointStore(Path(folder), keep=2)
        saves, loads = [], []
        for step in range(args.repeats):
            started = time.perf_counter()
            path = store.save(state, step)
            saves.append(time.perf_counter() - started)
            started = time.perf_counter()
            read_checkpoint(path)
            loads.append(time.perf_counter() - started)
        size_mb = path.stat().st_size / 1e6
    save_s, load_s = statistics.median(saves), statistics.median(loads)
    print(f"parameters                 {n_params / 1e6:.1f} M")
    print(f"checkpoint size            {size_mb:.0f} MB (weights + Adam moments + RNG + config)")
    print(f"save (write+fsync+rename)  {save_s:.2f} s  (median of {[round(s, 2) for s in saves]})")
    print(f"load (verify sha256+load)  {load_s:.2f} s  (median of {[round(s, 2) for s in loads]})")
    overhead = save_s / (args.period_minutes * 60) * 100
    print(f"overhead at one checkpoint every {args.period_minutes:g} min: {overhead:.2f} % of training time")


if __name__ == "__main__":
    main()
