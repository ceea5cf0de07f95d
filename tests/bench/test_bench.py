"""``python -m colab_utils bench``: one block per model with every number it promises; clear errors.

Nothing here asserts a speed: the machine running the tests is not the one the numbers are for.
"""

from __future__ import annotations


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
