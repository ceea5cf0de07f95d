"""What both keypoint calibration models share at prediction time: frames in, keypoints decoded in
the frame's own pixels, and the result a user gets (keypoints, the fitted geometry, the pitch it
projects, the SoccerNet camera JSON).

Frames of any size go through the validation pipeline of training (resize to the trained
input size, pad; :func:`~colab_utils.calibration.frames.augmentations`), the heatmaps are
decoded by the task's own transform and the keypoints moved back to the frame's pixels. Each
model's predictor fits its own geometry to them: a calibrated camera, or a ground homography.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from colab_utils.calibration.frames import augmentations, to_frame_pixels
from colab_utils.calibration.picture import draw_overlay, keypoint_picture
from colab_utils.calibration.smoothing import CameraSmoother
from colab_utils.geometry.camera import Camera
from colab_utils.geometry.keypoints import NAMES_57
from colab_utils.inference.base import Predictor, Result, batches
from colab_utils.inference.inputs import Frame


@dataclass
class CalibrationResult(Result):
    """A frame's keypoints (frame pixels), the geometry fitted to them and the pitch it projects.

    ``keypoints`` index the 57; ``pieces`` are the projected pitch's polylines, None when no
    geometry could be fitted. ``homography`` (pitch metres -> frame pixels) is the homography
    model's output; ``camera`` the calibrated one (or the one the homography implies).
    """

    name: str
    source: str
    image: np.ndarray
    keypoints: tuple[int, ...]
    xy: np.ndarray
    confidence: np.ndarray
    min_confidence: float
    camera: Camera | None
    pieces: list[np.ndarray] | None
    geometry: str = "calibrated camera"
    homography: np.ndarray | None = None

    @property
    def found(self) -> bool:
        return self.pieces is not None

    @property
    def detected(self) -> np.ndarray:
        return self.confidence >= self.min_confidence

    def summary(self) -> str:
        text = f"{self.name}: {int(self.detected.sum())} keypoints"
        if self.homography is not None:
            text += "; homography fitted"
        if self.camera is not None:
            c = self.camera
            return text + (
                f"; camera: focal {c.fx:.0f} px, pan {c.pan:.1f}, tilt {c.tilt:.1f}, roll {c.roll:.1f} deg, "
                f"at ({c.position[0]:.1f}, {c.position[1]:.1f}, {c.position[2]:.1f}) m"
            )
        if self.homography is not None:
            return text + "; no plausible camera from it"
        return text + f"; no {self.geometry}: too few keypoints, or none fits them"

    def overlay(self) -> np.ndarray:
        """The frame (RGB, its own size) with the projected pitch and the detected keypoints."""
        return draw_overlay(self.image, self.pieces or [], self.xy[self.detected])

    def figure(self) -> Any:
        shown = (self.image, self.xy, self.confidence, self.keypoints, self.min_confidence)
        figure = keypoint_picture(*shown, self.pieces, self.geometry)
        axis = figure.axes[0]
        axis.set_title(f"{self.name}: {axis.get_title()}")
        return figure

    def save(self, folder: Path) -> list[Path]:
        """``<name>.png`` (the overlay) and, with a camera, ``camera_<name>.json`` (SoccerNet's format)."""
        overlay = folder / f"{self.name}.png"
        if not cv2.imwrite(str(overlay), cv2.cvtColor(self.overlay(), cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write {overlay}")
        paths = [overlay]
        if self.camera is not None:
            paths.append(folder / f"camera_{self.name}.json")
            paths[-1].write_text(json.dumps(self.camera.to_json(), indent=4))
        return paths

    def to_dict(self) -> dict[str, Any]:
        detected = np.flatnonzero(self.detected)
        return {
            "name": self.name,
            "source": self.source,
            "frame_size": [int(self.image.shape[1]), int(self.image.shape[0])],
            "keypoints": [
                {
                    "index": int(self.keypoints[i]),
                    "name": NAMES_57[self.keypoints[i]],
                    "x": float(self.xy[i, 0]),
                    "y": float(self.xy[i, 1]),
                    "confidence": float(self.confidence[i]),
                }
                for i in detected
            ],
            "camera": None if self.camera is None else self.camera.to_json(),
            "homography": None if self.homography is None else self.homography.tolist(),
        }


class KeypointPredictor(Predictor):
    """Options: ``batch_size`` (frames per forward pass), ``min_confidence`` (a keypoint counts
    as detected above this peak probability; default: the trained config's), ``smooth`` (0 to
    below 1: the weight of the past frames in an exponential moving average of the camera or
    homography over a video's frames, restarted at a cut;
    :mod:`~colab_utils.calibration.smoothing`; default 0, off). Subclasses set the task and turn
    each frame's keypoints into a result (:meth:`result`), through ``self.smoother``."""

    streams_video = True
    smooths_cameras = True

    def __init__(
        self,
        payload: dict[str, Any],
        device: str | torch.device,
        batch_size: int = 8,
        min_confidence: float | None = None,
        smooth: float = 0.0,
    ) -> None:
        overrides = {} if min_confidence is None else {"model.min_confidence": float(min_confidence)}
        super().__init__(payload, device, overrides)
        self.batch_size = batch_size
        self.smoother = CameraSmoother(smooth)
        self.keypoints = tuple(self.task_class.keypoints)
        self.min_confidence = float(self.cfg.model.min_confidence)
        self.input_size = tuple(int(v) for v in self.cfg.data.input_size)
        self.transform = augmentations(self.cfg.data.input_size, self.cfg.derived.padded_size, train=False)

    def start_sequence(self) -> None:
        self.smoother.reset()

    def run(self, frames: list[Frame]) -> list[CalibrationResult]:
        results = []
        for batch in batches(frames, self.batch_size):
            images = torch.stack(
                [torch.from_numpy(self.transform(image=f.image)["image"]).permute(2, 0, 1) for f in batch]
            )
            with self.autocast():
                output = self.model.predict(images)
            scale = torch.tensor([f.size for f in batch]) / torch.tensor(self.input_size)
            xy = to_frame_pixels(output["xy"].float().cpu(), scale[:, None, :]).numpy()
            confidence = output["confidence"].float().cpu().numpy()
            for i, frame in enumerate(batch):
                own = {key: value[i].cpu() for key, value in output.items()}
                results.append(self.result(frame, xy[i], confidence[i], own, scale[i]))
        return results

    def result(
        self, frame: Frame, xy: np.ndarray, confidence: np.ndarray, output: dict, scale: torch.Tensor
    ) -> CalibrationResult:
        """One frame's result from its keypoints in frame pixels (``output``: the frame's raw outputs,
        ``scale``: frame / input size)."""
        raise NotImplementedError
