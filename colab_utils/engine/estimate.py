"""How long will this take? The slower of the GPU and the data loader.

The GPU's time is training FLOPs x samples / (GPU peak x efficiency). The FLOPs are counted,
not guessed: one training step (forward, loss, backward) of the real network on a real batch's
shapes runs on PyTorch's "meta" device under ``FlopCounterMode``, which costs no memory and no
arithmetic. The efficiency is an assumption: 15 % of the GPU's dense fp16/bf16 tensor peak,
which matches the one public data point for this kind of model (HRNet-W48 at 960x540, ~27 min
per epoch of 16,463 frames on a 24 GB card with AMP). Small networks are slower than that on any
card (kernel launches, memory traffic): where a faster GPU was measured slower at the same
profile, the measurement sets the GPU's time (:mod:`colab_utils.engine.measured_gpu`). The
loader's time is the epoch's samples at the rate the training loader reached in a few seconds
of loading on this runtime's cores (:func:`time_loader`): on Colab's two cores it, not the GPU,
can set the pace. Once training runs, the progress bar's measured rate replaces both.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from argus.utils import deep_to
from omegaconf import DictConfig
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

from colab_utils.engine.contract import Task
from colab_utils.engine.measured_gpu import MEASURED_ON, measured_ceiling, slowdown
from colab_utils.engine.sampling import ResumableBatchSampler
from colab_utils.runtime import GPU

PEAK_TFLOPS = {
    "T4": 65.0,
    "L4": 121.0,
    "A100": 312.0,
    "H100": 989.0,
    "V100": 125.0,
    "A10": 125.0,
    "P100": 18.7,
}
ASSUMED_EFFICIENCY = 0.15
SESSION_HOURS = 11.5  # what a free Colab session gives at best


def peak_tflops(gpu: GPU) -> float | None:
    for name, peak in PEAK_TFLOPS.items():
        if name in gpu.name.upper().replace("NVIDIA", ""):
            return peak
    return None


def _conv_backward_flops(
    grad_out_shape: list[int],
    x_shape: list[int],
    w_shape: list[int],
    _bias: object,
    _stride: object,
    _padding: object,
    _dilation: object,
    transposed: bool,
    _output_padding: object,
    _groups: int,
    output_mask: list[bool],
    **_: object,
) -> int:
    """Each requested gradient of a convolution costs one forward pass.

    torch's own formula ignores ``groups`` in the backward pass and charges a depthwise
    convolution 65 times its forward cost (EfficientNet's estimate came out 14x too high).
    """
    forward = conv_flop_count(list(x_shape), list(w_shape), list(grad_out_shape), transposed)
    return forward * (int(output_mask[0]) + int(output_mask[1]))


FLOP_FIXES = {torch.ops.aten.convolution_backward: _conv_backward_flops}
"""Corrections to torch's FLOP formulas, for ``FlopCounterMode(custom_mapping=...)``."""


def training_flops(task: Task, cfg: DictConfig, batch: object) -> float:
    """FLOPs of one training step on ``batch`` (counted on the meta device)."""
    model = task.build_model(cfg, torch.device("cpu"))
    model.set_device(torch.device("meta"))
    with FlopCounterMode(display=False, custom_mapping=FLOP_FIXES) as counter:
        loss, _, _ = model.forward_loss(deep_to(batch, device=torch.device("meta")))
        loss.backward()
    return float(counter.get_total_flops())


class LoaderTiming(NamedTuple):
    rate: float  # samples/s
    first_batch: Any
    first_size: int  # samples in the first batch


def time_loader(
    sampler: ResumableBatchSampler,
    loader: Iterable,
    batches: int | None = None,
    seconds: float | None = None,
    epoch: int = 0,
) -> LoaderTiming:
    """Samples/s of ``loader`` (driven by ``sampler``), timed after its first batch (the workers
    have started) for ``batches`` batches, or for ``seconds`` and at least 3 batches; it runs into
    further epochs when one is shorter."""
    done, items, started, first = 0, 0, 0.0, None
    while True:
        sampler.set_epoch(epoch)
        for batch_keys, batch in zip(sampler, loader, strict=True):
            if first is None:
                started, first = time.perf_counter(), (batch, len(batch_keys))
                continue
            done, items = done + 1, items + len(batch_keys)
            elapsed = time.perf_counter() - started
            if done == batches or (seconds is not None and elapsed >= seconds and done >= 3):
                return LoaderTiming(items / elapsed, *first)
        epoch += 1


@dataclass(frozen=True)
class Estimate:
    """One epoch's time on a GPU: its FLOPs at the assumed efficiency, or loading, whichever is slower."""

    flops_per_sample: float
    gpu_seconds_per_epoch: float
    epochs: int
    loader_rate: float | None = None  # samples/s this runtime's training loader reached
    loader_seconds_per_epoch: float | None = None
    measured_ceiling: float | None = None  # samples/s a faster GPU reached, where that bounds the GPU time

    @property
    def seconds_per_epoch(self) -> float:
        return max(self.gpu_seconds_per_epoch, self.loader_seconds_per_epoch or 0.0)

    @property
    def bound(self) -> str:
        """What sets the pace: "the GPU" or "the loader"."""
        loader = self.loader_seconds_per_epoch
        return "the loader" if loader is not None and loader > self.gpu_seconds_per_epoch else "the GPU"

    @property
    def hours(self) -> float:
        return self.seconds_per_epoch * self.epochs / 3600

    @property
    def sessions(self) -> int:
        return max(1, math.ceil(self.hours / SESSION_HOURS))

    def text(self, gpu: GPU) -> str:
        loading = "loading not measured"
        if self.loader_seconds_per_epoch is not None:
            loading = (
                f"~{self.loader_seconds_per_epoch / 60:.1f} min of loading (this runtime's loader: "
                f"{self.loader_rate:,.1f} samples/s)"
            )
        pace = f"at {ASSUMED_EFFICIENCY:.0%} of its fp16/bf16 peak"
        if self.measured_ceiling is not None:
            pace = f"at the {self.measured_ceiling:,.1f} samples/s {MEASURED_ON} reached: slower than {pace}"
        return (
            f"Estimate on {gpu.name}: {self.flops_per_sample / 1e9:.1f} GFLOP per training sample; per epoch "
            f"~{self.gpu_seconds_per_epoch / 60:.1f} min of GPU work ({pace}) and {loading}: "
            f"{self.bound} sets the pace, "
            f"~{self.seconds_per_epoch / 60:.1f} min per epoch, {self.epochs} epochs = ~{self.hours:.1f} h "
            f"= ~{self.sessions} Colab session(s) of {SESSION_HOURS:g} h (early stopping may end sooner; "
            "the progress bar's 'left' is the measured rate)."
        )


def estimate(
    task: Task,
    cfg: DictConfig,
    batch: object,
    batch_size: int,
    train_samples: int,
    val_samples: int,
    gpu: GPU,
    loader_rate: float | None = None,
) -> Estimate | None:
    """Time per epoch (training + validation) for the full recipe on ``gpu``; None if its peak is unknown.

    ``loader_rate`` (training samples/s measured on this runtime) bounds it from below; validation
    is assumed to load as fast. Where a faster GPU was measured slower than the FLOP count at this
    profile (:mod:`colab_utils.engine.measured_gpu`), the GPU time follows the measurement.
    """
    peak = peak_tflops(gpu)
    if peak is None:
        return None
    per_sample = training_flops(task, cfg, batch) / batch_size
    work = per_sample * train_samples + per_sample / 3 * val_samples  # validation: forward only
    loading = (train_samples + val_samples) / loader_rate if loader_rate else None
    flop_rate = peak * 1e12 * ASSUMED_EFFICIENCY
    gpu_seconds = work / flop_rate
    ceiling = measured_ceiling(str(cfg.task), str(cfg.profile), peak)
    slower = slowdown(flop_rate / per_sample, ceiling)
    gpu_seconds *= slower
    ceiling = ceiling if slower > 1 else None
    return Estimate(per_sample, gpu_seconds, int(cfg.train.epochs), loader_rate, loading, ceiling)


def _to_fake(module: torch.nn.Module, mode: object) -> None:
    """Swap every parameter and buffer of ``module`` for a fake tensor of the same shape and dtype."""
    for child in module.modules():
        for name, param in list(child._parameters.items()):
            if param is not None:
                fake = mode.from_tensor(param.detach())
                child._parameters[name] = torch.nn.Parameter(fake, requires_grad=param.requires_grad)
        for name, buffer in list(child._buffers.items()):
            if buffer is not None:
                child._buffers[name] = mode.from_tensor(buffer)


def training_memory(task: Task, cfg: DictConfig, batch: object, dtype: torch.dtype = torch.float16) -> dict:
    """Peak bytes of a training step by kind (parameters, gradients, optimizer state, activations...).

    No GPU needed: the network is built, its tensors are swapped for fake ones (shapes, no
    storage), and two steps (forward under autocast, backward, optimizer step) run while
    torch's ``MemTracker`` follows what each tensor would occupy. Autocast is the CPU's,
    whose fp16 op list is close to CUDA's. Not counted, so add them: the CUDA context
    (~0.3-0.5 GiB), cuDNN workspaces and the caching allocator's fragmentation (often
    10-20 %). The step is the task's ``forward_loss``.
    """
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.distributed._tools.mem_tracker import MemTracker
    from torch.utils._pytree import tree_map_only

    model = task.build_model(cfg, torch.device("cpu"))
    with FakeTensorMode(allow_non_fake_inputs=True) as mode:
        _to_fake(model.nn_module, mode)
        model.optimizer = model.build_optimizer(model._meta["optimizer"], model.params["optimizer"])
        fake_batch = tree_map_only(torch.Tensor, mode.from_tensor, batch)
        tracker = MemTracker()
        tracker.track_external(model.nn_module, model.optimizer)
        with tracker:
            for step in range(2):  # the second step holds the optimizer state the first one created
                model.nn_module.train()
                with torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
                    loss, _, _ = model.forward_loss(fake_batch)
                loss.backward()
                model.optimizer.step()
                model.optimizer.zero_grad(set_to_none=True)
                if step == 0:
                    tracker.reset_mod_stats()
        peak = tracker.get_tracker_snapshot("peak")[torch.device("cpu")]
    return {str(getattr(kind, "value", kind)): int(value) for kind, value in peak.items()}
