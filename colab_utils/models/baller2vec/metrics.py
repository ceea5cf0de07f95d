"""Forecast errors of multi-agent trajectories: ADE and FDE at several horizons, model and baseline.

For a horizon of h steps, ADE is the mean distance (m) between forecast and true positions over
steps 1..h of every forecast agent, FDE the mean distance at step h. Players and the ball are
reported apart (``ade_5`` is the players', ``ball_ade_5`` the ball's); every key has a ``cv_``
twin for the constant-velocity forecast from the same history. Points where the truth is
missing are left out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from argus.engine import State
from argus.metrics import Metric


def forecast_errors(
    forecast: np.ndarray, truth: np.ndarray, valid: np.ndarray, horizons: Sequence[int]
) -> dict[str, float]:
    """ADE / FDE of ``forecast`` [N, F, A, 2] against ``truth`` with ``valid`` [N, F, A] (the ball last)."""
    error = np.linalg.norm(forecast - truth, axis=-1)
    results = {}
    for horizon in horizons:
        if horizon > error.shape[1]:
            continue
        for prefix, agents in (("", slice(0, -1)), ("ball_", slice(-1, None))):
            seen = valid[:, :horizon, agents]
            upto = error[:, :horizon, agents]
            last = valid[:, horizon - 1, agents]
            results[f"{prefix}ade_{horizon}"] = float(upto[seen].mean()) if seen.any() else float("nan")
            final = error[:, horizon - 1, agents][last]
            results[f"{prefix}fde_{horizon}"] = float(final.mean()) if last.any() else float("nan")
    return results


class ForecastErrors(Metric):
    """ADE / FDE of the rollout and of constant velocity, written at the end of validation."""

    name = "forecast_errors"
    better = "min"

    def __init__(self, horizons: Sequence[int]) -> None:
        super().__init__()
        self.horizons = [int(h) for h in horizons]
        self.reset()

    def reset(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {"forecast": [], "baseline": [], "truth": [], "valid": []}

    def update(self, step_output: dict) -> None:
        prediction, target = step_output["prediction"], step_output["target"]
        self.parts["forecast"].append(prediction["forecast"].detach().float().cpu().numpy())
        for key, source in (("baseline", "baseline"), ("truth", "future"), ("valid", "valid")):
            self.parts[key].append(target[source].detach().cpu().numpy())

    def compute(self) -> dict[str, float]:
        forecast, baseline, truth, valid = (np.concatenate(self.parts[k]) for k in self.parts)
        model = forecast_errors(forecast, truth, valid, self.horizons)
        cv = forecast_errors(baseline.astype(np.float32), truth, valid, self.horizons)
        return {**model, **{f"cv_{key}": value for key, value in cv.items()}}

    def epoch_complete(self, state: State) -> None:
        prefix = f"{state.phase}_" if state.phase else ""
        for key, value in self.compute().items():
            state.metrics[f"{prefix}{key}"] = value
