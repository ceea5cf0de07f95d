"""The gnn model at its T4 profile: loader speed, training FLOPs, implied T4 epoch time.

* Loader: windows/s (each = 24 frame graphs of 22 players + the ball, k = 8 neighbours: ~550
  nodes, ~4,400 edges) delivered by the training DataLoader with the profile's 2 workers, cut
  from synthetic matches in SkillCorner's files (generated into a temporary folder; the real
  open data have the same shape: 10 fps, 22 players). Augmentation and labels included.
* FLOPs: one training step (forward, loss, backward) of the profile's network on a real batch,
  counted by the engine's estimate (``colab_utils.engine.estimate.training_flops``, PyTorch's
  FLOP counter on the meta device). It counts matrix products only: the linear maps of the
  graph layers and the LSTM (which the meta device runs as its per-step matrix products; on the
  CPU the fused LSTM kernel is not counted at all). It does not count torch-geometric's
  per-edge work: gathering both ends of every edge, the attention's LeakyReLU and dot product,
  the softmax over each node's incoming edges (``scatter`` max and sum) and the weighted
  message sum (``scatter_add``). That work is estimated here from the batch's edge count
  (about 8 operations per edge, head and channel, forward, and twice that backward) and
  printed beside the count.
* Implied T4 seconds per epoch of the open data's training windows (8 matches, assumed ~95 min
  of tracked play each, a window every 20 frames) at 65 TFLOP/s fp16 peak, for the 15 % the
  trainer assumes and for 3 % (an assumption too: memory-bound scatters and a 24-step LSTM
  use tensor cores far less well than large convolutions); next to the loader's time.
* Peak GPU memory needs a GPU; none was lent to this work, so it is not measured here.

    python bench/gnn_t4.py [--batches 20]
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile

import torch
from measure import loader_rate
from torch.utils.flop_counter import FlopCounterMode

from colab_utils.config import load_config
from colab_utils.engine.estimate import ASSUMED_EFFICIENCY, PEAK_TFLOPS, training_flops
from colab_utils.registry import get_task

OPEN_DATA_WINDOWS = (
    8 * 95 * 60 * 10 // 20
)  # 8 training matches, ~95 min tracked each (assumed), every 20 frames
EDGE_OPS = 8  # per edge, head and channel in one GATv2 layer, forward (see the docstring)


def forward_shares(task, cfg, batch) -> str:
    """Shares of the forward pass's counted FLOPs by part of the network (the counter's split of the
    backward pass by module is not reliable, so only the forward is split)."""
    model = task.build_model(cfg, torch.device("cpu"))
    model.set_device(torch.device("meta"))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.forward_loss(batch)
    counts = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    total = counts["Global"]
    convs = sum(flops for name, flops in counts.items() if re.fullmatch(r"TacticsNet\.convs\.\d+", name))
    parts = {"graph layers": convs, "LSTM": counts.get("TacticsNet.lstm", 0)}
    parts["embedding and heads"] = total - sum(parts.values())
    return ", ".join(f"{name} {flops / total:.0%}" for name, flops in parts.items())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=20, help="batches to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COLAB_UTILS_DRIVE"] = f"{tmp}/drive"
        os.environ["COLAB_UTILS_DATA"] = f"{tmp}/data"
        synthetic = ["data.source=synthetic", "data.synthetic.matches=3", "data.synthetic.minutes=12.0"]
        cfg = load_config("gnn", "t4", [*synthetic, "data.valid_matches=1"], verbose=False)
        task = get_task(cfg.task)
        size = int(cfg.train.batch_size)
        task.prepare_data(cfg)
        windows_per_s, batch = loader_rate(task, cfg, task.datasets(cfg)[0], args.batches)
        nodes, edges = batch.x.shape[0], batch.edge_index.shape[1]
        workers, frames = cfg.data.num_workers, cfg.data.window.frames
        print(f"loader  {windows_per_s:.0f} windows/s with {workers} workers on {os.cpu_count()} cores")
        print(f"        (batch {size} windows of {frames} graphs: {nodes:,} nodes, {edges:,} edges)")

        counted = training_flops(task, cfg, batch)
        parts = forward_shares(task, cfg, batch)
        model = cfg.model
        per_edge = EDGE_OPS * (edges + nodes) * int(model.hidden) * int(model.layers)  # self loops included
        uncounted = 3 * per_edge  # forward + backward
        per_window = counted / size / 1e9
        print(
            f"train   {counted / 1e9:.1f} GFLOP per batch ({per_window:.2f} per window), forward + backward,"
        )
        print("        as the engine's estimate counts them (matrix products only); of the forward:")
        print(f"        {parts}")
        print(f"        not counted: ~{uncounted / 1e9:.1f} GFLOP of per-edge gathers, attention softmax and")
        print("        scatter sums (torch-geometric's message passing)")

        total = counted + uncounted
        batches_per_epoch = OPEN_DATA_WINDOWS // size
        for efficiency in (ASSUMED_EFFICIENCY, 0.03):
            seconds = total * batches_per_epoch / (PEAK_TFLOPS["T4"] * 1e12 * efficiency)
            share = f"{efficiency:.0%} of 65 TFLOP/s"
            print(f"T4      {seconds:6.1f} s per epoch of {OPEN_DATA_WINDOWS:,} windows at {share}")
        loader_seconds = OPEN_DATA_WINDOWS / windows_per_s
        print(f"loader  {loader_seconds:6.1f} s per epoch at the measured rate: the CPU cores set the pace")
        print("memory  peak GPU memory at the t4 profile: not measured (no GPU was lent to this work)")


if __name__ == "__main__":
    main()
