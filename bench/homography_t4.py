"""The homography model at its T4 profile: loader speed, FLOPs, implied T4 epoch time, memory.

* Loader: images/s delivered by the training DataLoader (JPEG decode, target derivation,
  augmentation, resize and pad) with the profile's workers, on 960x540 frames in SoccerNet's
  format (synthetic, generated into a temporary folder).
* FLOPs: one training step (forward, loss with the homography fit, backward) of the
  profile's network, counted on PyTorch's meta device.
* Implied T4 time per epoch of calibration-2023's 16,463 training frames (+ 3,212
  validation frames, forward only) at 65 TFLOP/s fp16 peak, for several efficiencies; the
  trainer's own estimate assumes 15 %.
* Memory, without a GPU: the bytes autograd keeps for the backward pass of one image
  (counted on the CPU under 16-bit autocast, the storage of every saved tensor once), times
  the batch, plus weights, gradients and Adam's state. An estimate, not a measurement: it
  leaves out the CUDA context, cuDNN workspaces and the allocator's slack.
* Memory, on a GPU: the peak the allocator reports over a few real fp16 training steps at the
  profile's batch, under a 15 GiB cap (``torch.cuda.set_per_process_memory_fraction``).

    python bench/homography_t4.py [--frames 96] [--batches 40]
"""

from __future__ import annotations

import argparse
import os
import tempfile

import torch
from measure import loader_rate
from torch.utils.data import default_collate

from colab_utils.config import load_config
from colab_utils.engine.estimate import ASSUMED_EFFICIENCY, PEAK_TFLOPS, training_flops
from colab_utils.engine.precision import Precision
from colab_utils.pipeline import prepare_data
from colab_utils.registry import get_task

TRAIN_FRAMES, VAL_FRAMES = 16_463, 3_212
T4_CAP_GIB = 15.0
GIB = 2**30


def saved_activation_bytes(task, cfg, batch) -> int:
    """Bytes of the tensors autograd saves for backward in one training step on the CPU, under
    bf16 autocast (the same size as fp16), each storage counted once."""
    model = task.build_model(cfg, torch.device("cpu"))
    model.train()
    storages: dict[int, int] = {}

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    parameters = {p.untyped_storage().data_ptr() for p in model.nn_module.parameters()}
    with (
        torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor),
        Precision("bf16", "cpu").autocast(),
    ):
        loss, _, _ = model.forward_loss(batch)
    loss.backward()
    return sum(size for pointer, size in storages.items() if pointer not in parameters)


def gpu_peak_gib(task, cfg, batch, steps: int = 3) -> float:
    """Peak allocated GiB over a few fp16 training steps on the GPU, capped at 15 GiB."""
    device = torch.device("cuda")
    total = torch.cuda.get_device_properties(device).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, T4_CAP_GIB * GIB / total), device)
    model = task.build_model(cfg, device)
    model.configure_training(Precision("fp16", "cuda"), int(cfg.train.accumulate), cfg.train.clip_grad_norm)
    torch.cuda.reset_peak_memory_stats(device)
    for _ in range(steps):
        model.train_step(batch)
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / GIB


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
            "model.pretrained=false",  # same shapes and FLOPs; no download
            "logging.progress=false",
        ]
        cfg = load_config("homography", "t4", overrides, verbose=False)
        prepare_data(cfg)
        task = get_task(cfg.task)
        size = f"{cfg.derived.padded_size[0]}x{cfg.derived.padded_size[1]}"
        batch_size = int(cfg.train.batch_size)

        per_second, batch = loader_rate(task, cfg, task.datasets(cfg)[0], args.batches)
        print(
            f"loader  {per_second:.1f} images/s, {cfg.data.num_workers} workers on {os.cpu_count()} cores "
            f"(batch {batch_size}, {size} padded input)"
        )

        flops = training_flops(task, cfg, batch) / batch_size
        print(
            f"train   {flops / 1e9:.0f} GFLOP per image (forward + loss + backward, "
            f"{cfg.model.backbone} at {size})"
        )
        epoch_flops = flops * TRAIN_FRAMES + flops / 3 * VAL_FRAMES
        for efficiency in (0.10, ASSUMED_EFFICIENCY, 0.25):
            minutes = epoch_flops / (PEAK_TFLOPS["T4"] * 1e12 * efficiency) / 60
            print(
                f"T4      {minutes:5.1f} min per epoch at {efficiency:.0%} of 65 TFLOP/s "
                f"(needs {TRAIN_FRAMES / (minutes * 60):.1f} images/s from the loader)"
            )

        one = default_collate([task.datasets(cfg)[0][(0, 0)]])
        activations = saved_activation_bytes(task, cfg, one)
        parameters = sum(p.numel() for p in task.build_model(cfg, torch.device("cpu")).nn_module.parameters())
        states = parameters * 16  # fp32 weights, gradients and Adam's two moments
        estimate = (activations * batch_size + states) / GIB
        print(
            f"memory  {activations / 2**20:.0f} MiB saved for backward per image (16-bit autocast), "
            f"{states / 2**20:.0f} MiB weights + grads + Adam: ~{estimate:.1f} GiB at batch {batch_size} "
            f"before CUDA context and workspaces (an estimate; cap {T4_CAP_GIB:g} GiB)"
        )
        if torch.cuda.is_available():
            gpu_batch = default_collate([task.datasets(cfg)[0][(0, i)] for i in range(batch_size)])
            peak = gpu_peak_gib(task, cfg, gpu_batch)
            print(
                f"GPU     {peak:.2f} GiB peak allocated over 3 fp16 steps on {torch.cuda.get_device_name()}"
            )
        else:
            print("GPU     none here: peak GPU memory not measured")


if __name__ == "__main__":
    main()
