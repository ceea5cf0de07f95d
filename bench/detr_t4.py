"""The DETR detector at its T4 profile: loader speed, training FLOPs, implied T4 epoch time, memory.

* Loader: images/s delivered by the training DataLoader with the profile's 2 workers: sampled
  frames of 1920x1080 clips in SoccerNet's tracking-2023 layout (synthetic, generated into a
  temporary folder), JPEG decoded at half size, augmented, 960x540 boxes and labels.
* FLOPs: one training step (forward, loss, backward) of DETR-R50 on a t4 batch, counted on
  PyTorch's meta device (the Hungarian matching's share is not counted: it is negligible), for
  each ``model.variant``.
* Implied T4 time per epoch: tracking-2023's 57 training clips x 32 frames (+ 49 x 8 validation
  frames, forward only) at 65 TFLOP/s fp16 peak, for several efficiencies; the trainer's own
  estimate assumes 15 %.
* Memory: the peak of a training step at the t4 batch (and twice it), estimated without a GPU
  (:func:`colab_utils.engine.estimate.training_memory`: fake tensors, fp16 autocast); the CUDA
  context, cuDNN workspaces and fragmentation are not in it. An estimate, not a measurement.

    python bench/detr_t4.py [--clips 2] [--frames 24] [--batches 16]

Measured on the 2-core development machine (quiet), t4 profile (960x540, batch 16, fp16):

    loader  106.9 images/s, 2 workers on 2 cores (batch 16, 1920x1080 JPEGs decoded at half size -> 960x540)
    train   detr: 4666 GFLOP per batch of 16 = 292 per image
    train   conditional_detr: 4705 GFLOP per batch of 16 = 294 per image
    train   deformable_detr: 12767 GFLOP per batch of 16 = 798 per image
    T4         88 / 58 / 35 s per epoch (1,824 + 392 frames) of detr at 10 / 15 / 25 % of 65 TFLOP/s
    loader     21 s per epoch at the measured rate (the GPU sets the pace; 300 epochs ~ 4.8 h at 15 %)
    memory  batch 16: estimated peak 8.14 GiB (activations 7.67, optimizer 0.31, parameters 0.15)
            -> 10.3 GiB with x1.2 and 0.5 GiB of context: fits in 15 GiB
    memory  batch 32: estimated peak 15.73 GiB -> 19.4 GiB: does not fit

On the same machine busy with other jobs (load ~5) the loader gave 23.4 images/s. Synthetic
frames are simpler than broadcast ones and decode faster: expect a lower rate on real JPEGs.
"""

from __future__ import annotations

import argparse
import os
import tempfile

from measure import loader_rate

from colab_utils.config import load_config
from colab_utils.engine.estimate import ASSUMED_EFFICIENCY, PEAK_TFLOPS, training_flops, training_memory
from colab_utils.pipeline import prepare_data
from colab_utils.registry import get_task

TRAIN_FRAMES, VAL_FRAMES = 57 * 32, 49 * 8  # tracking-2023 at the recipe's frames_per_clip
T4_GIB = 15.0
CONTEXT_GIB, FRAGMENTATION = 0.5, 1.2  # what the estimate leaves out, added before comparing with 15 GiB


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=2, help="synthetic training clips to generate")
    parser.add_argument("--frames", type=int, default=24, help="frames per synthetic clip")
    parser.add_argument("--batches", type=int, default=16, help="batches to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COLAB_UTILS_DRIVE"] = f"{tmp}/drive"
        os.environ["COLAB_UTILS_DATA"] = f"{tmp}/data"
        overrides = [
            "data.source=synthetic",
            f"data.synthetic.clips.train={args.clips}",
            "data.synthetic.clips.valid=1",
            f"data.synthetic.frames={args.frames}",
            "model.pretrained=false",  # no download; the estimate then has GroupNorm's (larger) activations
            "logging.progress=false",
        ]
        cfg = load_config("detr", "t4", overrides, verbose=False)
        prepare_data(cfg)
        task = get_task(cfg.task)
        size = int(cfg.train.batch_size)
        width, height = (int(v) for v in cfg.data.input_size)
        per_second, batch = loader_rate(task, cfg, task.datasets(cfg)[0], args.batches)
        print(
            f"loader  {per_second:.1f} images/s, {cfg.data.num_workers} workers on {os.cpu_count()} cores "
            f"(batch {size}, 1920x1080 JPEGs decoded at half size -> {width}x{height})"
        )
        for variant in ("detr", "conditional_detr", "deformable_detr"):
            variant_cfg = load_config("detr", "t4", [*overrides, f"model.variant={variant}"], verbose=False)
            flops = training_flops(task, variant_cfg, batch)
            print(
                f"train   {variant}: {flops / 1e9:.0f} GFLOP per batch of {size} = {flops / size / 1e9:.0f} "
                f"per image (forward + loss + backward, {cfg.model.backbone} at {width}x{height})"
            )
            if variant == cfg.model.variant:
                per_image = flops / size
        epoch_flops = per_image * TRAIN_FRAMES + per_image / 3 * VAL_FRAMES
        for efficiency in (0.10, ASSUMED_EFFICIENCY, 0.25):
            seconds = epoch_flops / (PEAK_TFLOPS["T4"] * 1e12 * efficiency)
            print(
                f"T4      {seconds:5.0f} s per epoch ({TRAIN_FRAMES:,} + {VAL_FRAMES} frames) of "
                f"{cfg.model.variant} at {efficiency:.0%} of 65 TFLOP/s (needs {TRAIN_FRAMES / seconds:.0f} "
                "images/s from the loader)"
            )
        print(f"loader  {(TRAIN_FRAMES + VAL_FRAMES) / per_second:5.0f} s per epoch at the measured rate")
        for batch_size in (size, 2 * size):
            images, target = batch
            repeat = -(-batch_size // size)
            bigger = (
                images.repeat(repeat, 1, 1, 1)[:batch_size],
                {"labels": (target["labels"] * repeat)[:batch_size]},
            )
            peak = training_memory(task, cfg, bigger)
            total = peak["Total"] / 2**30
            needed = total * FRAGMENTATION + CONTEXT_GIB
            parts = ", ".join(f"{k.lower()} {v / 2**30:.2f}" for k, v in peak.items() if k != "Total" and v)
            verdict = "fits" if needed <= T4_GIB else "does not fit"
            print(
                f"memory  batch {batch_size}: estimated peak {total:.2f} GiB ({parts}); x{FRAGMENTATION} + "
                f"{CONTEXT_GIB} GiB context = {needed:.1f} GiB: {verdict} in {T4_GIB:g} GiB "
                "(estimate, no GPU)"
            )


if __name__ == "__main__":
    main()
