"""What a GPU was measured to train per second, per model at its t4 profile: a ceiling on a T4's pace.

The time estimate and the bench turn counted FLOPs into items per second at an assumed 15 % of
the GPU's fp16 peak. The steps of the smaller networks never reach that on any card: they are
bound by kernel launches, small kernels and memory traffic, not by arithmetic. On the H200 lent
on 2026-12-04 (``python -m colab_utils bench all --gpu``: fp16 with GradScaler, a 15 GiB cap, the
median step after three warm-up steps, the loader's waits left out; ``bench/results/``), ball3d,
reid and gnn trained fewer items per second than the FLOP count says a T4 would. A T4 has a
fifteenth of the H200's fp16 peak, slower memory and a slower host, and does not outrun it at
the same step, so for a T4 the slower of the two rates is the pace: the demand a loader must
meet, and the GPU's share of an epoch's time.
"""

from __future__ import annotations

MEASURED_ON = "an H200 on 2026-12-04"  # the fastest of its runs with and without the speed settings
MEASURED_PEAK_TFLOPS = 989.0  # the H200's dense fp16 peak, as the H100's
MEASURED_PROFILE = "t4"

ITEMS_PER_S = {
    "sportlight_hrnet57": 31.3,
    "homography": 135.0,
    "baller2vec": 488.9,
    "ball3d": 106.1,
    "reid": 973.6,
    "detr": 65.6,
    "gnn": 1338.0,
}
"""Training items/s of each model's t4 profile on the H200: batch size over the median GPU step."""


def measured_ceiling(model: str, profile: str, peak_tflops: float) -> float | None:
    """Items/s a GPU of ``peak_tflops`` cannot exceed for ``model`` at ``profile``, where measured.

    None for another profile (other shapes) or a GPU as fast as the one measured on.
    """
    if profile != MEASURED_PROFILE or peak_tflops >= MEASURED_PEAK_TFLOPS:
        return None
    return ITEMS_PER_S.get(model)


def slowdown(flop_items_per_s: float, ceiling: float | None) -> float:
    """How many times slower than the FLOP count's rate the GPU trains: 1 without a ceiling or where
    the ceiling is faster."""
    return max(1.0, flop_items_per_s / ceiling) if ceiling is not None else 1.0
