"""The measured GPU ceiling: taken from the committed GPU proof, and applied only where it binds."""

from __future__ import annotations

import json
from pathlib import Path

from colab_utils.engine.measured_gpu import ITEMS_PER_S, MEASURED_PEAK_TFLOPS, measured_ceiling

RESULTS = Path(__file__).parents[2] / "bench" / "results"


def test_the_ceilings_are_the_fastest_runs_of_the_committed_gpu_proof():
    fastest: dict[str, float] = {}
    for path in RESULTS.glob("gpu_proof_*.json"):
        proof = json.loads(path.read_text())
        for run in [*proof["steps"], *proof["speed_settings"]]:
            if run["profile"] == "t4":
                fastest[run["model"]] = max(fastest.get(run["model"], 0.0), run["items_per_s"])
    assert fastest, f"no GPU proof in {RESULTS}"
    assert {model: round(rate, 1) for model, rate in fastest.items()} == ITEMS_PER_S


def test_a_ceiling_applies_to_the_measured_profile_on_a_slower_gpu_only():
    assert measured_ceiling("ball3d", "t4", 65.0) == ITEMS_PER_S["ball3d"]
    assert measured_ceiling("ball3d", "l4", 121.0) is None  # other shapes than were measured
    assert measured_ceiling("ball3d", "t4", MEASURED_PEAK_TFLOPS) is None
    assert measured_ceiling("my_model", "t4", 65.0) is None
