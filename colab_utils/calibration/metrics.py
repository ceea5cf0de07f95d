"""argus metrics for keypoint calibration models: PCK and SoccerNet's official score.

Both work in the frame's own pixels (the loader resizes; predictions are scaled back), so
numbers do not change with the profile's input size. The official score calibrates a
camera from each frame's predicted keypoints and scores it against the frame's original
annotation at 960x540, as SoccerNet's evaluator does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from argus.engine import State
from argus.metrics import Metric

from colab_utils.calibration.frames import to_frame_pixels
from colab_utils.geometry.calibrate import camera_from_keypoints
from colab_utils.geometry.camera import Camera
from colab_utils.geometry.metric import EVAL_HEIGHT, EVAL_WIDTH, CalibrationMetric, pck


def calibrate_subset(
    xy: np.ndarray,
    confidence: np.ndarray,
    keypoints: Sequence[int],
    width: int,
    height: int,
    min_confidence: float,
) -> Camera | None:
    """A camera from a model that predicts a subset of the 57 keypoints (placed into the full layout)."""
    full, full_confidence = np.full((57, 2), np.nan), np.zeros(57)
    full[list(keypoints)] = xy
    full_confidence[list(keypoints)] = confidence
    return camera_from_keypoints(full, full_confidence, width, height, min_confidence=min_confidence)


def frame_predictions(
    step_output: dict, min_confidence: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(predicted xy, confidence, true xy, visible, index) per frame, in frame pixels; xy NaN when unsure."""
    prediction, target = step_output["prediction"], step_output["target"]
    scale = target["scale"][:, None, :].float()
    xy = to_frame_pixels(prediction["xy"].float(), scale).cpu().numpy()
    confidence = prediction["confidence"].float().cpu().numpy()
    xy[confidence < min_confidence] = np.nan
    true_xy = to_frame_pixels(target["keypoints"].float(), scale).cpu().numpy()
    return xy, confidence, true_xy, target["visible"].cpu().numpy(), target["index"].cpu().numpy()


class KeypointPCK(Metric):
    """Share of visible keypoints predicted within t pixels (a missing prediction is a miss)."""

    name = "pck"
    better = "max"

    def __init__(self, thresholds: Sequence[float] = (5, 10), min_confidence: float = 0.5) -> None:
        super().__init__()
        self.thresholds = tuple(thresholds)
        self.min_confidence = min_confidence
        self.reset()

    def reset(self) -> None:
        self.pred: list[np.ndarray] = []
        self.true: list[np.ndarray] = []
        self.visible: list[np.ndarray] = []

    def update(self, step_output: dict) -> None:
        xy, _, true_xy, visible, _ = frame_predictions(step_output, self.min_confidence)
        self.pred.append(xy)
        self.true.append(true_xy)
        self.visible.append(visible)

    def compute(self) -> dict[float, float]:
        pred, true, visible = (np.concatenate(a) for a in (self.pred, self.true, self.visible))
        return pck(pred.reshape(-1, 2), true.reshape(-1, 2), visible.reshape(-1), self.thresholds)

    def epoch_complete(self, state: State) -> None:
        prefix = f"{state.phase}_" if state.phase else ""
        for threshold, value in self.compute().items():
            state.metrics[f"{prefix}pck@{threshold:g}"] = float(value)


class CameraScore(Metric):
    """SoccerNet's calibration metric of one camera per frame (960x540 pixels, None: no prediction).

    Reports ``acc@5``, ``acc@10``, ``acc@20``, ``completeness`` and ``score``
    (completeness x acc@5, the challenge's final score). Subclasses say where a frame's
    camera comes from (:meth:`cameras`).
    """

    name = ""  # not registered with argus: each subclass registers its own name
    better = "max"

    def __init__(self, annotations: Sequence[Path]) -> None:
        super().__init__()
        self.annotations = list(annotations)
        self.reset()

    def cameras(self, step_output: dict) -> list[Camera | None]:
        raise NotImplementedError

    def reset(self) -> None:
        self.metric = CalibrationMetric()

    def update(self, step_output: dict) -> None:
        indices = step_output["target"]["index"].cpu().numpy()
        for camera, index in zip(self.cameras(step_output), indices, strict=True):
            self.metric.update(camera, json.loads(Path(self.annotations[int(index)]).read_text()))

    def compute(self) -> dict[str, float]:
        result = self.metric.compute()
        return {
            "acc@5": result["acc@5"],
            "acc@10": result["acc@10"],
            "acc@20": result["acc@20"],
            "completeness": result["completeness"],
            "score": result["final_score"],
        }

    def epoch_complete(self, state: State) -> None:
        prefix = f"{state.phase}_" if state.phase else ""
        for key, value in self.compute().items():
            state.metrics[f"{prefix}{key}"] = float(value)


class CalibrationScore(CameraScore):
    """SoccerNet's calibration metric of cameras calibrated from the predicted keypoints."""

    name = "score"

    def __init__(
        self, annotations: Sequence[Path], keypoints: Sequence[int], min_confidence: float = 0.5
    ) -> None:
        self.keypoints = np.asarray(keypoints)
        self.min_confidence = min_confidence
        super().__init__(annotations)

    def cameras(self, step_output: dict) -> list[Camera | None]:
        xy, confidence, _, _, _ = frame_predictions(step_output, self.min_confidence)
        sizes = step_output["target"]["frame_size"].cpu().numpy()
        to_eval = (np.array([EVAL_WIDTH, EVAL_HEIGHT]) - 1) / (sizes - 1)  # SoccerNet scales by size - 1
        return [
            calibrate_subset(
                frame_xy * scale, frame_conf, self.keypoints, EVAL_WIDTH, EVAL_HEIGHT, self.min_confidence
            )
            for frame_xy, frame_conf, scale in zip(xy, confidence, to_eval, strict=True)
        ]
