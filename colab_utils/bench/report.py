"""The bench's printed block per model and its summary table."""

from __future__ import annotations

import json
from collections.abc import Sequence

from colab_utils.bench.measure import Measured
from colab_utils.engine.estimate import ASSUMED_EFFICIENCY, PEAK_TFLOPS
from colab_utils.engine.measured_gpu import MEASURED_ON


def _gpu(m: Measured) -> str:
    return f"a {m.gpu} at {ASSUMED_EFFICIENCY:.0%} of {PEAK_TFLOPS[m.gpu]:g} TFLOP/s fp16"


def _demand(m: Measured) -> str:
    """The demand line: the FLOP count's, or the measured GPU's where that is slower (and says so)."""
    if m.ceiling_binds:
        return (
            f"demand  {m.demand:9.1f} {m.items}/s: what {MEASURED_ON} trained at this step; {_gpu(m)} would "
            f"want {m.flop_demand:.1f} by the FLOP count, more than any GPU reached (the step is bound by "
            "launches and memory, not arithmetic)"
        )
    measured = f" ({MEASURED_ON} trained {m.ceiling:.1f})" if m.ceiling else ""
    return f"demand  {m.demand:9.1f} {m.items}/s: what {_gpu(m)} trains{measured}"


def block(m: Measured) -> str:
    """One model's numbers, one labelled line each, then its own measurements."""
    epoch = f"{m.train_items:,} + {m.validation_items:,} validation {m.items}"
    pace = "the loader sets the pace" if m.bound == "loader" else "the GPU sets the pace"
    lines = [
        f"== {m.model} (profile {m.profile})",
        f"loader  {m.loader_rate:9.1f} {m.items}/s with {m.workers} workers on {m.cores} cores",
        f"train   {m.flops / 1e9:9.2f} GFLOP per {m.items.removesuffix('s')} (forward + loss + backward)",
        _demand(m),
        f"ratio   {m.ratio:9.2f}x loader/demand",
        f"epoch   {m.gpu_minutes:9.2f} min bounded by the GPU, {m.loader_minutes:.2f} min by the loader "
        f"({epoch}): {pace}",
        *(f"        {note}" for note in m.notes),
    ]
    return "\n".join(lines)


def json_line(m: Measured) -> str:
    """One model's headline numbers as one JSON object (``bench --json``)."""
    return json.dumps(
        {
            "model": m.model,
            "profile": m.profile,
            "items": m.items,
            "loader_per_s": round(m.loader_rate, 1),
            "workers": m.workers,
            "cores": m.cores,
            "gflop_per_item": round(m.flops / 1e9, 3),
            "flop_demand_per_s": round(m.flop_demand, 1),
            "measured_gpu_per_s": m.ceiling,
            "demand_per_s": round(m.demand, 1),
            "ratio": float(f"{m.ratio:.4g}"),
            "gpu_min_per_epoch": round(m.gpu_minutes, 2),
            "loader_min_per_epoch": round(m.loader_minutes, 2),
            "bound": m.bound,
        }
    )


def summary(results: Sequence[Measured]) -> str:
    """A table of every model's headline numbers."""
    header = ("model", "items", "loader/s", "GFLOP/item", "demand/s", "ratio", "GPU min", "loader min")
    header = (*header, "bound")
    rows = [
        (
            m.model,
            m.items,
            f"{m.loader_rate:.1f}",
            f"{m.flops / 1e9:.2f}",
            f"{m.demand:.1f}",
            f"{m.ratio:.2f}x",
            f"{m.gpu_minutes:.2f}",
            f"{m.loader_minutes:.2f}",
            m.bound,
        )
        for m in results
    ]
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in table)
    return "\n".join(line.rstrip() for line in lines)
