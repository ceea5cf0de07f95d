"""argus metrics of the gnn model: accuracy and macro-F1 per task, next to the majority class.

For each task (``role``, ``formation``, ``phase``) over the labelled items of the
validation set (label >= 0):

* ``<task>_accuracy``: share of items whose arg-max class is the label;
* ``<task>_macro_f1``: scikit-learn's ``f1_score(average="macro")`` over the classes that
  occur in the labels or the predictions (scikit-learn ships with Colab; torchmetrics does
  not, and its multiclass F1 needs the class count fixed in advance);
* ``<task>_majority``: the accuracy of always answering the most frequent label of these
  same items, the baseline a model must beat (it is a ceiling for any constant answer);
* ``<task>_count``: how many labelled items there were.

``mean_f1`` averages the macro-F1 of the tasks that had labels; it is the run's monitor.
"""

from __future__ import annotations

import numpy as np
from argus.engine import State
from argus.metrics import Metric
from sklearn.metrics import f1_score

from colab_utils.models.gnn.loss import TASKS


def task_scores(predicted: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """accuracy, macro_f1, majority and count of one task's predicted and true classes (labels >= 0)."""
    keep = labels >= 0
    predicted, labels = predicted[keep], labels[keep]
    if not len(labels):
        return {"accuracy": float("nan"), "macro_f1": float("nan"), "majority": float("nan"), "count": 0.0}
    return {
        "accuracy": float((predicted == labels).mean()),
        "macro_f1": float(f1_score(labels, predicted, average="macro", zero_division=0)),
        "majority": float(np.bincount(labels).max() / len(labels)),
        "count": float(len(labels)),
    }


class TacticsScores(Metric):
    name = "mean_f1"
    better = "max"

    def __init__(self) -> None:
        super().__init__()
        self.reset()

    def reset(self) -> None:
        self.predicted: dict[str, list[np.ndarray]] = {task: [] for task in TASKS}
        self.labels: dict[str, list[np.ndarray]] = {task: [] for task in TASKS}

    def update(self, step_output: dict) -> None:
        prediction, target = step_output["prediction"], step_output["target"]
        for task in TASKS:
            self.predicted[task].append(prediction[task].argmax(dim=-1).reshape(-1).cpu().numpy())
            self.labels[task].append(target[task].reshape(-1).cpu().numpy())

    def compute(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for task in TASKS:
            scores = task_scores(np.concatenate(self.predicted[task]), np.concatenate(self.labels[task]))
            out.update({f"{task}_{key}": value for key, value in scores.items()})
        f1s = [out[f"{task}_macro_f1"] for task in TASKS if out[f"{task}_count"] > 0]
        out["mean_f1"] = float(np.mean(f1s)) if f1s else float("nan")
        return out

    def epoch_complete(self, state: State) -> None:
        prefix = f"{state.phase}_" if state.phase else ""
        for key, value in self.compute().items():
            state.metrics[f"{prefix}{key}"] = value
