"""argus metrics of 3-D ball trajectories, for the model and the "ball on the ground" baseline.

Keys (each also with a ``baseline_`` twin, the same measure of the ray-meets-ground answer
the model starts from):

* ``err3d_mean`` / ``err3d_median``: distance (m) between predicted and true ball centres
  over all frames (detected or not);
* ``err3d_air``: the mean over frames where the ball is off the ground (where the baseline
  is wrong by construction);
* ``height_err``: mean absolute height error (m);
* ``ade`` / ``fde``: average and final displacement error per clip (m), averaged over clips.
  With clips of equal length ``ade`` equals ``err3d_mean``; it is kept under its usual name
  for comparison with trajectory-prediction work.
"""

from __future__ import annotations

import numpy as np
from argus.engine import State
from argus.metrics import Metric

from colab_utils.models.ball3d.synthetic.physics import ROLL

AIRBORNE_M = 0.05  # a ball whose centre is this far above its resting height counts as in the air


def trajectory_errors(
    predicted: np.ndarray, true: np.ndarray, labels: np.ndarray, radius: float = 0.11
) -> dict[str, float]:
    """The metrics of predictions (N, T, 3) against the truth (N, T, 3); ``labels`` (N, T)."""
    error = np.linalg.norm(predicted - true, axis=-1)
    height = -true[..., 2] - radius
    airborne = (height > AIRBORNE_M) & (labels != ROLL)
    return {
        "err3d_mean": float(error.mean()),
        "err3d_median": float(np.median(error)),
        "err3d_air": float(error[airborne].mean()) if airborne.any() else float("nan"),
        "height_err": float(np.abs(predicted[..., 2] - true[..., 2]).mean()),
        "ade": float(error.mean(axis=1).mean()),
        "fde": float(error[:, -1].mean()),
    }


class TrajectoryErrors(Metric):
    """All the keys above, written in ``epoch_complete`` (``val_err3d_mean`` is the monitor)."""

    name = "err3d_mean"
    better = "min"

    def __init__(self) -> None:
        super().__init__()
        self.reset()

    def reset(self) -> None:
        self.predicted: list[np.ndarray] = []
        self.true: list[np.ndarray] = []
        self.baseline: list[np.ndarray] = []
        self.labels: list[np.ndarray] = []

    def update(self, step_output: dict) -> None:
        prediction, target = step_output["prediction"], step_output["target"]
        self.predicted.append(prediction["position"].detach().float().cpu().numpy())
        self.true.append(target["position"].float().cpu().numpy())
        self.baseline.append(target["baseline"].float().cpu().numpy())
        self.labels.append(target["labels"].cpu().numpy())

    def compute(self) -> dict[str, float]:
        true, labels = np.concatenate(self.true), np.concatenate(self.labels)
        model = trajectory_errors(np.concatenate(self.predicted), true, labels)
        baseline = trajectory_errors(np.concatenate(self.baseline), true, labels)
        return {**model, **{f"baseline_{k}": v for k, v in baseline.items()}}

    def epoch_complete(self, state: State) -> None:
        prefix = f"{state.phase}_" if state.phase else ""
        for key, value in self.compute().items():
            state.metrics[f"{prefix}{key}"] = value
