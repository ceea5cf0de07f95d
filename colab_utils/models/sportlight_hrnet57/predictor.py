"""The 57-keypoint calibration model on your frames: keypoints -> SoccerNet camera -> overlay.

The frames pipeline and the decoding are the shared keypoint predictor's
(:mod:`~colab_utils.calibration.predictor`). The camera is calibrated from the keypoints by the
code the task's metric uses (:func:`~colab_utils.calibration.metrics.calibrate_subset`), in the
frame's own pixels: the principal point is the frame's centre, so the camera JSON fits the frame
it came from (at 960x540 it is SoccerNet's). A frame whose keypoints allow no camera is
reported, with its keypoints still drawn.
"""

from __future__ import annotations

import numpy as np
import torch

from colab_utils.calibration.metrics import calibrate_subset
from colab_utils.calibration.picture import project_pitch
from colab_utils.calibration.predictor import CalibrationResult, KeypointPredictor
from colab_utils.calibration.smoothing import CameraSmoother
from colab_utils.inference.inputs import Frame
from colab_utils.models.sportlight_hrnet57.task import SportlightHRNet57


def camera_result(
    frame: Frame,
    keypoints: tuple[int, ...],
    xy: np.ndarray,
    confidence: np.ndarray,
    min_confidence: float,
    smoother: CameraSmoother | None = None,
) -> CalibrationResult:
    """A frame's result from its keypoints (frame pixels): the camera calibrated from them (averaged
    with the frames before by ``smoother``, given one) and the pitch it projects."""
    width, height = frame.size
    camera = calibrate_subset(xy, confidence, keypoints, width, height, min_confidence)
    if smoother is not None:
        camera = smoother.camera(camera, width, height)
    pieces = None if camera is None else project_pitch(camera, width, height)
    found = (xy, confidence, min_confidence, camera, pieces)
    return CalibrationResult(frame.name, frame.source, frame.image, keypoints, *found)


class KeypointCalibration(KeypointPredictor):
    """Options as for every keypoint predictor: ``batch_size``, ``min_confidence``, ``smooth``."""

    task_class = SportlightHRNet57

    found_label = "with a camera"

    def result(
        self, frame: Frame, xy: np.ndarray, confidence: np.ndarray, output: dict, scale: torch.Tensor
    ) -> CalibrationResult:
        return camera_result(frame, self.keypoints, xy, confidence, self.min_confidence, self.smoother)
