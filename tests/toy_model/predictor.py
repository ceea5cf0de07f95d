"""The toy classifier on a user's points: what an eighth model's predictor needs to write."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from colab_utils.inference.base import Predictor, Result
from colab_utils.inference.inputs import FrameReport
from toy_model.task import ToyTask


@dataclass
class ToyResult(Result):
    name: str
    source: str
    found: bool
    probabilities: list[float]
    label: str

    def summary(self) -> str:
        return f"{self.name}: {self.label} ({max(self.probabilities):.2f})"

    def save(self, folder: Path) -> list[Path]:
        rows = zip(("negative", "positive"), self.probabilities, strict=True)
        return [self.save_table(folder, ["class", "probability"], rows)]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "probabilities": self.probabilities}


class ToyPredictor(Predictor):
    """Inputs: an array of points, one row of ``data.dim`` features each."""

    task_class = ToyTask
    found_label = "classified"

    def read(self, inputs: Any, every: int = 1, max_frames: int = 100) -> FrameReport:
        points = np.asarray(inputs, dtype=np.float32).reshape(-1, int(self.cfg.data.dim))
        return FrameReport(frames=list(points[::every][:max_frames]))

    @torch.no_grad()
    def run(self, inputs: list[np.ndarray]) -> list[ToyResult]:
        logits = self.model.get_nn_module()(torch.from_numpy(np.stack(inputs)).to(self.device))
        classes = self.meta["classes"]
        return [
            ToyResult(f"point_{i:03d}", "array", True, p.tolist(), classes[int(p.argmax())])
            for i, p in enumerate(logits.softmax(dim=1).cpu())
        ]
