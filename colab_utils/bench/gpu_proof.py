"""``python -m colab_utils bench all --gpu``: what training really does on a CUDA GPU, in minutes.

Under a 15 GiB cap (a T4's memory, whatever the card), for each model at its profile: N fp16
steps with GradScaler through the real training loop (peak memory, step time, skipped steps);
then one out-of-memory step-down, one kill-and-resume, and the speed settings' steps/s. Each
check runs only while the time budget lasts, and the JSON file is rewritten after each one, so a
cut-off run still leaves what it measured.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import torch

from colab_utils.bench.command import chosen_models, scratch_folders
from colab_utils.bench.gpu_checks import T4_MEMORY_GIB, out_of_memory_check, resume_check, set_memory_cap
from colab_utils.bench.gpu_steps import StepsResult, run_steps
from colab_utils.bench.gpu_table import tables

NO_GPU = (
    "The GPU proof needs a CUDA GPU and this machine has none: no GPU number was measured. "
    "Run it on a GPU runtime (Colab: Runtime > Change runtime type > T4 GPU)."
)
# the convolutional models' recipes turn both settings on: each run here turns them off again, so
# the default run against "channels_last off" prices channels-last, and that against "both off"
# prices cuDNN's autotuning
SPEED_SETTINGS = {
    "channels_last off": ("train.channels_last=false",),
    "both off": ("train.channels_last=false", "train.cudnn_benchmark=false"),
}
COMPILE_SETTING = ("train.compile=true",)
CONVOLUTIONAL = ("sportlight_hrnet57", "homography", "ball3d", "reid", "detr")
HEADLINE = "sportlight_hrnet57"


class Proof:
    """The proof's results so far, written to ``out`` after every check."""

    def __init__(self, out: Path, budget_s: float) -> None:
        self.out = out
        self.deadline = time.monotonic() + budget_s
        properties = torch.cuda.get_device_properties(0)
        self.results: dict = {
            "gpu": properties.name,
            "gpu_memory_gib": round(properties.total_memory / 1024**3, 1),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
            "memory_cap_gib": T4_MEMORY_GIB,
            "precision": "fp16 with GradScaler",
            "steps": [],
            "speed_settings": [],
            "out_of_memory": None,
            "resume": None,
            "not_run": [],
        }

    def left_s(self) -> float:
        return self.deadline - time.monotonic()

    def check(self, name: str, needs_s: float, work: Callable[[], object]) -> object | None:
        """Run one check when the budget still holds ``needs_s``; record an error as a result."""
        if self.left_s() < needs_s:
            self.results["not_run"].append(f"{name}: the time budget ran out")
            self.write()
            return None
        print(f"-- {name}", flush=True)
        try:
            return work()
        except Exception as error:  # the proof reports what failed and goes on with the next check
            self.results["not_run"].append(f"{name}: {type(error).__name__}: {str(error)[:500]}")
            return None
        finally:
            self.write()

    def write(self) -> None:
        self.out.write_text(json.dumps(self.results, indent=2, default=str) + "\n")


def _steps(
    model: str, profile: str, steps: int, settings: Sequence[str] = (), label: str = "default"
) -> StepsResult:
    return run_steps(model, profile, steps, settings, run_name=f"gpu-proof-{label.replace('+', '-')}")


def _record(proof: Proof, key: str, result: StepsResult | None, **extra: object) -> None:
    if result is not None:
        proof.results[key].append({**asdict(result), **extra})


def prove(model: str, profile: str, steps: int, out: Path, budget_min: float) -> dict | None:
    """Run the proof and print its tables; None (with the reason printed) without a CUDA GPU."""
    if not torch.cuda.is_available():
        print(NO_GPU)
        return None
    set_memory_cap(T4_MEMORY_GIB)
    proof = Proof(out, budget_min * 60)
    with scratch_folders():  # one per proof: each model's data is prepared once for all its runs
        _prove(proof, chosen_models(model), profile, steps)
    print(tables(proof.results))
    return proof.results


def _prove(proof: Proof, models: list[str], profile: str, steps: int) -> None:
    baselines = {}
    for name in models:
        baselines[name] = proof.check(f"{name}: {steps} steps", 20, lambda n=name: _steps(n, profile, steps))
        _record(proof, "steps", baselines[name])
    oom_model = HEADLINE if baselines.get(HEADLINE) else next((m for m in models if baselines[m]), None)
    if oom_model:
        proof.results["out_of_memory"] = proof.check(
            f"{oom_model}: out of memory",
            60,
            lambda: out_of_memory_check(oom_model, profile, steps, baselines[oom_model]),
        )
        proof.results["resume"] = proof.check(
            f"{oom_model}: kill and resume", 90, lambda: resume_check(oom_model, profile, min(steps, 12))
        )
    for name in [m for m in models if m in CONVOLUTIONAL and baselines[m]]:
        for label, settings in SPEED_SETTINGS.items():
            found = proof.check(
                f"{name}: {label}", 30, lambda n=name, s=settings, lb=label: _steps(n, profile, steps, s, lb)
            )
            _record(proof, "speed_settings", found, setting=label)
    if baselines.get(HEADLINE):
        found = proof.check(
            f"{HEADLINE}: compile", 150, lambda: _steps(HEADLINE, profile, steps, COMPILE_SETTING, "compile")
        )
        _record(proof, "speed_settings", found, setting="compile")
    proof.write()
