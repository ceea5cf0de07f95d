"""``python -m colab_utils bench``: one block per model with every number it promises; clear errors.

Nothing here asserts a speed: the machine running the tests is not the one the numbers are for.
"""

from __future__ import annotations

import json

import pytest

from colab_utils.bench.measure import Measured
from colab_utils.bench.report import block


def test_the_bench_prints_a_block_for_one_model(run_cli):
    cheap = ("data.num_workers=0", "data.synthetic.minutes=2.0")
    result = run_cli("bench", "baller2vec", "--profile", "smoke", "--batches", "2", *cheap)
    assert result.returncode == 0, result.stderr
    block = result.stdout
    assert "== baller2vec (profile smoke)" in block
    for line in (
        "windows/s with 0 workers on",  # the loader's rate
        "GFLOP per window (forward + loss + backward)",
        "windows/s: what a T4 at 15% of 65 TFLOP/s fp16 trains",  # the demand
        "x loader/demand",
        "min bounded by the GPU",
        "sets the pace",
    ):
        assert line in block, f"{line!r} missing from:\n{block}"


def test_an_unknown_model_exits_2_listing_the_valid_ones(run_cli):
    result = run_cli("bench", "baller2vek")
    assert result.returncode == 2
    assert "Unknown model 'baller2vek'" in result.stderr and "Did you mean baller2vec?" in result.stderr
    assert "Valid models: ball3d, baller2vec, detr, gnn" in result.stderr and "Traceback" not in result.stderr


def test_json_prints_one_line_per_model_with_the_headline_numbers(run_cli):
    cheap = ("data.num_workers=0", "data.synthetic.minutes=2.0")
    result = run_cli("bench", "baller2vec", "--profile", "smoke", "--batches", "2", "--json", *cheap)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.strip().splitlines()
    numbers = json.loads(line)
    assert numbers["model"] == "baller2vec" and numbers["items"] == "windows"
    assert numbers["measured_gpu_per_s"] is None  # the smoke profile's shapes were never run on a GPU
    assert numbers["demand_per_s"] == numbers["flop_demand_per_s"]
    assert numbers["ratio"] == pytest.approx(numbers["loader_per_s"] / numbers["demand_per_s"], rel=0.01)
    for key in ("gflop_per_item", "gpu_min_per_epoch", "loader_min_per_epoch", "bound"):
        assert key in numbers


def _measured(ceiling: float | None) -> Measured:
    return Measured(
        model="ball3d",
        profile="t4",
        gpu="T4",
        items="clips",
        workers=2,
        cores=2,
        loader_rate=400.0,
        flops=23.6e9,  # 413 clips/s at 15 % of a T4
        validation_flops=7.9e9,
        train_items=50_000,
        validation_items=2_000,
        ceiling=ceiling,
    )


def test_where_a_faster_gpu_was_measured_slower_its_rate_is_the_demand_and_the_block_says_so():
    measured = _measured(ceiling=106.1)
    assert measured.demand == 106.1 and measured.ratio == pytest.approx(400 / 106.1)
    assert measured.gpu_minutes == pytest.approx(_measured(None).gpu_minutes * 413.1 / 106.1, rel=0.01)
    text = block(measured)
    assert "demand      106.1 clips/s: what an H200" in text and "would want 413.1 by the FLOP count" in text
    faster = _measured(ceiling=900.0)  # measured faster than the FLOP count: the count stands
    assert faster.demand == pytest.approx(413.1, rel=0.001)
    assert "(an H200 on 2026-12-04 trained 900.0)" in block(faster)
