"""The GPU proof's two checks beyond speed: an out-of-memory step-down, and kill-and-resume on CUDA."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from colab_utils.bench.gpu_steps import GIB, PROOF_OVERRIDES, StepsResult, run_steps
from colab_utils.bench.measure import model_bench, prepare_quietly
from colab_utils.config import load_config
from colab_utils.engine.checkpoint import CheckpointStore

T4_MEMORY_GIB = 15.0
CAP_SHARE = 0.6  # of the baseline's peak allocated memory: the out-of-memory check's cap
# What the kill-and-resume runs set before anything touches CUDA: cuDNN picks deterministic
# algorithms, torch warns (and goes on) where an operation has no deterministic CUDA kernel, and
# cuBLAS gets the fixed workspace its deterministic mode needs.
DETERMINISM = {
    "cudnn.deterministic": True,
    "cudnn.benchmark": False,
    "use_deterministic_algorithms": "warn_only",
    "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
}
_CHILD = """\
import sys, torch
torch.backends.cudnn.deterministic = True
torch.backends.cudnn.benchmark = False
torch.use_deterministic_algorithms(True, warn_only=True)
if torch.cuda.is_available():
    from colab_utils.bench.gpu_checks import set_memory_cap
    set_memory_cap({cap})
from colab_utils.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def set_memory_cap(gib: float) -> float:
    """Cap this process's CUDA memory at ``gib`` whatever the card holds; returns the cap in GiB."""
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, gib * GIB / total))
    return min(gib, total / GIB)


def out_of_memory_check(model: str, profile: str, steps: int, baseline: StepsResult) -> dict:
    """Train again under a cap well below the baseline's peak: the ladder must step down and training
    go on. 70 % of the peak reserved was tried first and ran out of memory in one of two runs on an
    H200: cuDNN falls back to algorithms with smaller workspaces, so the peak includes some slack."""
    cap = set_memory_cap(CAP_SHARE * baseline.peak_allocated_gib)
    try:
        result = run_steps(model, profile, steps, run_name="gpu-proof-oom")
        outcome = {"status": result.status, "steps": result.steps, "rungs": list(result.stepdowns)}
        # after halve_batch the run stops at the first optimizer step at or past ``steps`` batches
        outcome["goes_on"] = bool(result.stepdowns) and result.status == "max_steps" and result.steps >= steps
    except Exception as error:  # the ladder ran out, or something the proof must report
        outcome = {"status": "failed", "error": f"{type(error).__name__}: {error}", "goes_on": False}
    finally:
        set_memory_cap(T4_MEMORY_GIB)
    return {
        "model": model,
        "cap_gib": round(cap, 2),
        "baseline_peak_allocated_gib": baseline.peak_allocated_gib,
        **outcome,
    }


def _train_command(model: str, profile: str, overrides: Sequence[str]) -> list[str]:
    child = _CHILD.format(cap=T4_MEMORY_GIB)
    return [sys.executable, "-c", child, "train", model, "--profile", profile, *overrides]


def _child_env() -> dict[str, str]:
    return {**os.environ, "CUBLAS_WORKSPACE_CONFIG": DETERMINISM["CUBLAS_WORKSPACE_CONFIG"]}


def _run(command: list[str], timeout_s: float) -> subprocess.CompletedProcess:
    return subprocess.run(command, env=_child_env(), capture_output=True, text=True, timeout=timeout_s)


def _kill_after_first_checkpoint(command: list[str], store: CheckpointStore, timeout_s: float) -> str:
    process = subprocess.Popen(
        command, env=_child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None and not store.step_files():
        time.sleep(0.05)
    if process.poll() is not None:
        return f"ended by itself (exit {process.returncode}) before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    return "killed (SIGKILL) after its first checkpoint"


def resume_check(model: str, profile: str, steps: int, timeout_s: float = 240.0) -> dict:
    """Train ``steps`` batches straight, and again killed after the first checkpoint and resumed;
    compare the final weights."""
    every = max(1, steps // 3)
    base = [*model_bench(model).overrides, *PROOF_OVERRIDES, f"train.max_steps={steps}"]
    base += [f"checkpoint.every_steps={every}", "train.cudnn_benchmark=false"]
    prepare_quietly(load_config(model, profile, base, verbose=False))
    runs = {}
    for name in ("straight", "killed"):
        overrides = [*base, f"run.name=gpu-proof-{name}"]
        runs[name] = CheckpointStore(
            Path(load_config(model, profile, overrides, verbose=False).run.dir) / "checkpoints"
        )
        runs[name + "_command"] = _train_command(model, profile, overrides)
    straight = _run(runs["straight_command"], timeout_s)
    if straight.returncode != 0:
        return {"model": model, "status": "failed", "error": straight.stderr[-2000:]}
    killed = _kill_after_first_checkpoint(runs["killed_command"], runs["killed"], timeout_s)
    resumed_from = [path.name for path in runs["killed"].step_files()]
    resumed = _run(runs["killed_command"], timeout_s)
    if resumed.returncode != 0:
        return {"model": model, "status": "failed", "error": resumed.stderr[-2000:]}
    a = runs["straight"].newest_valid(map_location="cpu").payload["model"]
    b = runs["killed"].newest_valid(map_location="cpu").payload["model"]
    differences = [float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].is_floating_point()]
    return {
        "model": model,
        "status": "done",
        "steps": steps,
        "checkpoint_every_steps": every,
        "first_run": killed,
        "checkpoints_at_kill": resumed_from,
        "bit_identical": all(torch.equal(a[k], b[k]) for k in a),
        "max_abs_weight_difference": max(differences, default=0.0),
        "determinism": DETERMINISM,
    }
