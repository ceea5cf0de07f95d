"""The ball3d model at its T4 profile: loader speed, training FLOPs, implied T4 epoch time.

* Loader: clips/s (each clip = 48 crops of 64x64, rendered from its index: physics, camera,
  detector, crops) delivered by the training DataLoader with the profile's 2 workers.
* FLOPs: one training step (forward, loss, backward) of EfficientNet-B3 over every frame +
  the TCN, counted on PyTorch's meta device. torch's counter charges the weight gradient of
  a grouped convolution as if it were dense (``conv_backward_flop`` ignores ``groups``), which
  inflates EfficientNet's depthwise convolutions by their channel count; the corrected count
  charges each gradient of a convolution what its forward costs. Both are printed.
* Implied T4 time per epoch of 50,000 clips (+ 2,000 validation clips, forward only) at
  65 TFLOP/s fp16 peak for several efficiencies, next to the time the loader needs for them.
* Peak GPU memory needs a GPU; none was lent to this work, so it is not measured here.

    python bench/ball3d_t4.py [--batches 12]
"""

from __future__ import annotations

import argparse
import os
import tempfile

import torch
from argus.utils import deep_to
from measure import loader_rate
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

from colab_utils.config import load_config
from colab_utils.engine.estimate import ASSUMED_EFFICIENCY, PEAK_TFLOPS, training_flops
from colab_utils.registry import get_task

TRAIN_CLIPS, VAL_CLIPS = 50_000, 2_000


def _conv_backward_flop(
    grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation, transposed, *rest, **kwargs
) -> int:
    """Each requested gradient (input, weight) of a convolution costs what its forward does."""
    output_mask = rest[2]
    forward = conv_flop_count(list(x_shape), list(w_shape), list(grad_out_shape), transposed)
    return forward * (int(output_mask[0]) + int(output_mask[1]))


def corrected_training_flops(task, cfg, batch) -> float:
    model = task.build_model(cfg, torch.device("cpu"))
    model.set_device(torch.device("meta"))
    mapping = {torch.ops.aten.convolution_backward: _conv_backward_flop}
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        loss, _, _ = model.forward_loss(deep_to(batch, device=torch.device("meta")))
        loss.backward()
    return float(counter.get_total_flops())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=12, help="batches to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COLAB_UTILS_DRIVE"] = f"{tmp}/drive"
        os.environ["COLAB_UTILS_DATA"] = f"{tmp}/data"
        cfg = load_config("ball3d", "t4", ["model.pretrained=false"], verbose=False)
        task = get_task(cfg.task)
        size, frames, crop = int(cfg.train.batch_size), int(cfg.data.frames), int(cfg.data.crop_size)
        clips_per_s, batch = loader_rate(task, cfg, task.datasets(cfg)[0], args.batches)
        workers, cores = cfg.data.num_workers, os.cpu_count()
        print(f"loader  {clips_per_s:.1f} clips/s = {clips_per_s * frames:.0f} crops/s, {workers} workers")
        print(f"        on {cores} cores (batch {size} clips of {frames} frames, {crop}x{crop} crops)")
        counted = corrected_training_flops(task, cfg, batch) / size
        as_torch_counts = training_flops(task, cfg, batch) / size
        per_frame = counted / frames / 1e9
        print(f"train   {counted / 1e9:.1f} GFLOP per clip, {per_frame:.2f} per frame (forward + loss")
        print(f"        + backward, {cfg.model.backbone} at {crop}x{crop} + TCN); torch's own counter says")
        print(f"        {as_torch_counts / 1e9:.0f} GFLOP (grouped-convolution backward counted as dense)")
        epoch_flops = counted * TRAIN_CLIPS + counted / 3 * VAL_CLIPS
        for efficiency in (0.10, ASSUMED_EFFICIENCY, 0.25):
            minutes = epoch_flops / (PEAK_TFLOPS["T4"] * 1e12 * efficiency) / 60
            needed = TRAIN_CLIPS / (minutes * 60)
            share = f"{efficiency:.0%} of 65 TFLOP/s"
            print(f"T4      {minutes:5.1f} min per epoch of {TRAIN_CLIPS:,} clips at {share}")
            print(f"        (the loader would have to deliver {needed:.0f} clips/s)")
        loader_minutes = (TRAIN_CLIPS + VAL_CLIPS) / clips_per_s / 60
        print(f"loader  {loader_minutes:5.1f} min per epoch at the measured rate: the clips set the pace")
        print("memory  peak GPU memory at the t4 profile: not measured (no GPU was lent to this work)")


if __name__ == "__main__":
    main()
