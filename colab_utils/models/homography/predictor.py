"""The homography model on your frames: 29 ground keypoints -> homography -> the camera it implies.

Everything up to the keypoints is the shared keypoint predictor's (same frames pipeline, same
decoding); the task's transform also fits the homography (pitch metres -> input pixels),
which is moved to the frame's pixels here. The overlay shows the ground markings through the
homography; the camera (focal length and pose, principal point at the frame's centre) is the
one :func:`~colab_utils.geometry.calibrate.camera_from_homography` recovers, as the task's
SoccerNet score does. A frame without a homography, or whose homography implies no plausible
camera, is reported.
"""

from __future__ import annotations

import numpy as np
import torch

from colab_utils.calibration.frames import homography_to_frame
from colab_utils.calibration.picture import project_ground
from colab_utils.calibration.predictor import CalibrationResult, KeypointPredictor
from colab_utils.calibration.smoothing import CameraSmoother
from colab_utils.geometry.calibrate import camera_from_homography
from colab_utils.inference.inputs import Frame
from colab_utils.models.homography.task import Homography


def homography_result(
    frame: Frame,
    keypoints: tuple[int, ...],
    xy: np.ndarray,
    confidence: np.ndarray,
    min_confidence: float,
    homography: np.ndarray | None,
    smoother: CameraSmoother | None = None,
) -> CalibrationResult:
    """A frame's result from its keypoints and homography (pitch metres -> frame pixels; None: no fit),
    the homography averaged with the frames before by ``smoother``, given one."""
    width, height = frame.size
    if smoother is not None:
        homography = smoother.homography(homography, width, height)
    camera = pieces = None
    if homography is not None:
        camera = camera_from_homography(homography, width, height)
        pieces = project_ground(homography, width, height)
    found = (xy, confidence, min_confidence, camera, pieces, "fitted homography", homography)
    return CalibrationResult(frame.name, frame.source, frame.image, keypoints, *found)


class HomographyCalibration(KeypointPredictor):
    """Options as for the 57-point model (``smooth`` averages the homography, and the camera follows);
    ``min_confidence`` also decides which keypoints enter the fit."""

    task_class = Homography

    found_label = "with a homography"

    def result(
        self, frame: Frame, xy: np.ndarray, confidence: np.ndarray, output: dict, scale: torch.Tensor
    ) -> CalibrationResult:
        homography = None
        if torch.isfinite(output["homography"]).all():
            homography = homography_to_frame(output["homography"].double(), scale.double()).numpy()
        found = (xy, confidence, self.min_confidence, homography, self.smoother)
        return homography_result(frame, self.keypoints, *found)
