"""The GPU proof (``bench --gpu``): what it says without a GPU, and its parts that run on a CPU.

The proof's GPU numbers come from a GPU (README, Measured); here its steps, its skipped-step
count and its kill-and-resume check run for real on the CPU, where they must hold as well.
"""

from __future__ import annotations

import json

import pytest
import torch

from colab_utils.bench.gpu_checks import resume_check
from colab_utils.bench.gpu_steps import run_steps, skipped_steps
from colab_utils.bench.gpu_table import tables


def test_without_a_gpu_the_proof_says_so_and_writes_nothing(run_cli, tmp_path):
    out = tmp_path / "proof.json"
    result = run_cli("bench", "all", "--gpu", "--out", str(out))
    assert result.returncode == 2, result.stderr
    said = "The GPU proof needs a CUDA GPU and this machine has none: no GPU number was measured"
    assert said in result.stdout
    assert not out.exists()


def test_overrides_are_refused_since_the_proof_measures_the_profiles_as_they_are(run_cli):
    result = run_cli("bench", "detr", "--gpu", "train.batch_size=4")
    assert result.returncode == 2
    assert "bench --gpu takes no overrides" in result.stderr


def _scaler_after(gradients: list[float]) -> dict:
    """A real GradScaler's state after one optimizer step per gradient value (inf: an overflow)."""
    weight = torch.nn.Parameter(torch.ones(1))
    optimizer = torch.optim.SGD([weight], lr=0.1)
    scaler = torch.amp.GradScaler("cpu")
    for value in gradients:
        scaler.scale((weight * value).sum()).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad()
    return scaler.state_dict()


def test_skipped_steps_are_read_from_the_scale_grad_scaler_halved():
    state = _scaler_after([float("inf"), 1.0, float("inf"), float("nan"), 1.0])
    assert skipped_steps(state, optimizer_steps=5) == 3
    assert skipped_steps(_scaler_after([1.0, 1.0]), optimizer_steps=2) == 0
    assert skipped_steps({}, optimizer_steps=30) == 0  # fp32/bf16: the scaler is off and skips nothing
    with pytest.raises(ValueError, match="growth interval"):
        skipped_steps(state, optimizer_steps=2000)  # the scale may have grown back: unknowable


@pytest.mark.slow
def test_steps_and_kill_and_resume_run_through_the_real_loop(folders):
    steps = run_steps("baller2vec", "smoke", 6, ("data.num_workers=0",))
    assert (steps.status, steps.steps, steps.skipped_steps, steps.stepdowns) == ("max_steps", 6, 0, ())
    assert 0 < steps.gpu_step_s <= steps.step_s and steps.items_per_s > 0

    resume = resume_check("baller2vec", "smoke", 6)
    assert resume["first_run"] == "killed (SIGKILL) after its first checkpoint"
    assert resume["checkpoints_at_kill"] == ["step-000000002.pth"]
    assert resume["bit_identical"] and resume["max_abs_weight_difference"] == 0.0

    results = {
        "gpu": "cpu",
        "gpu_memory_gib": 0,
        "memory_cap_gib": 15.0,
        "torch": torch.__version__,
        "cuda": None,
        "cudnn": None,
        "precision": "fp32",
        "steps": [json.loads(json.dumps(steps.__dict__, default=list))],
        "speed_settings": [],
        "out_of_memory": None,
        "resume": resume,
        "not_run": ["baller2vec: compile: the time budget ran out"],
    }
    text = tables(results)
    assert "| baller2vec | 8 |" in text and "| 0 of 6 | none |" in text
    assert "the resumed weights are bit-identical against a run never stopped" in text
    assert "- Not run: baller2vec: compile: the time budget ran out" in text
