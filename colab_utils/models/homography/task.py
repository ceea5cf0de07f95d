"""ResNet-50 heatmaps of the 29 ground keypoints -> a homography of the pitch (SoccerNet calibration-2023).

The ground plane is all a homography sees, so the model looks for the 29 keypoints that lie
on it: the 26 ground line intersections, the centre mark and the two penalty marks
(``GROUND_29``). It shares the 57-keypoint model's data end to end (the same frames,
annotation geometry and augmentation, with the keypoints restricted to the subset; flips
rename them with the subset's own permutation), and its heatmap decoding. What is its own:
a ResNet with an FPN decoder (:mod:`~colab_utils.models.homography.network`), a loss that adds
the error in metres of the homography fitted to the decoded keypoints
(:mod:`~colab_utils.models.homography.loss`), and metrics of that homography: its error on
the pitch and SoccerNet's score of the camera it implies
(:mod:`~colab_utils.models.homography.metrics`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from colab_utils.calibration.frames import homography_to_frame, to_frame_pixels
from colab_utils.calibration.heatmaps import decode
from colab_utils.calibration.metrics import KeypointPCK
from colab_utils.calibration.picture import homography_picture
from colab_utils.calibration.task import KeypointFramesTask, KeypointHeatmapModel
from colab_utils.engine.contract import EvalReport, TrainModel
from colab_utils.geometry.keypoints import GROUND_29, NAMES_57, WORLD_57
from colab_utils.models.homography.fit import HomographyFit
from colab_utils.models.homography.loss import HomographyLoss
from colab_utils.models.homography.metrics import HomographyScore, ReprojectionError
from colab_utils.models.homography.network import ResNetHeatmap
from colab_utils.starting_weights import imagenet_start


class HomographyDecoder:
    """argus prediction transform: log-probability maps -> keypoints, confidences and the
    fitted homography (pitch metres -> input pixels; NaN where the keypoints allow none)."""

    def __init__(
        self,
        keypoints: Sequence[int],
        stride: int,
        heatmap_size: Sequence[int],
        sigma: float,
        min_confidence: float,
    ) -> None:
        self.stride = stride
        self.heatmap_size = (int(heatmap_size[1]), int(heatmap_size[0]))  # config is [W, H]
        self.radius = math.ceil(2.5 * sigma)
        self.fit = HomographyFit.of_keypoints(keypoints, min_confidence)

    def __call__(self, log_probs: torch.Tensor) -> dict[str, torch.Tensor]:
        xy, confidence = decode(log_probs, self.stride, self.heatmap_size, self.radius)
        homography, fitted = self.fit.to(xy.device)(xy, confidence)
        homography = torch.where(fitted[:, None, None], homography, torch.full_like(homography, float("nan")))
        return {"xy": xy, "confidence": confidence, "homography": homography}


class HomographyModel(KeypointHeatmapModel):
    nn_module = ResNetHeatmap
    loss = HomographyLoss
    prediction_transform = HomographyDecoder


class Homography(KeypointFramesTask):
    """The homography model; its data (frames, targets, verification) are the 57-point model's."""

    model_class = HomographyModel
    keypoints: tuple[int, ...] = GROUND_29

    def model_params(self, cfg: DictConfig) -> dict[str, Any]:
        stride = int(cfg.model.heatmap_stride)
        common = {
            "keypoints": list(self.keypoints),
            "stride": stride,
            "heatmap_size": list(cfg.derived.heatmap_size),
            "sigma": float(cfg.model.sigma),
            "min_confidence": float(cfg.model.min_confidence),
        }
        return {
            "nn_module": {
                "backbone": cfg.model.backbone,
                "num_keypoints": len(self.keypoints),
                "pretrained": imagenet_start(cfg),
                "stride": stride,
                "channels": int(cfg.model.head_channels),
                "grad_checkpointing": bool(cfg.model.grad_checkpointing),
            },
            "loss": {
                **common,
                "input_size": list(cfg.data.input_size),
                "focal_weight": float(cfg.loss.focal_weight),
                "ce_weight": float(cfg.loss.ce_weight),
                "reprojection_weight": float(cfg.loss.reprojection_weight),
                "reprojection_cap_m": float(cfg.loss.reprojection_cap_m),
                "grid_step_m": float(cfg.loss.grid_step_m),
            },
            "prediction_transform": common,
        }

    def model_signature(self, cfg: DictConfig) -> dict[str, Any]:
        """The network's shape only: decoding and loss settings may change between sessions."""
        return {
            key: cfg.model[key] for key in ("backbone", "heatmap_stride", "head_channels", "pad_multiple")
        } | {"keypoints": list(self.keypoints)}

    def metrics(self, cfg: DictConfig) -> list:
        annotations = self.validation_annotations(cfg)
        return [
            KeypointPCK(cfg.eval.pck_thresholds_px, float(cfg.model.min_confidence)),
            ReprojectionError(cfg.data.input_size, float(cfg.eval.grid_step_m)),
            HomographyScore(annotations),
        ]

    def evaluate(self, cfg: DictConfig, model: TrainModel, loader: Any) -> EvalReport:
        metrics = model.validate(loader, metrics=self.metrics(cfg))
        dataset = loader.dataset
        index = int(cfg.eval.picture_frame) % len(dataset)
        images, target = loader.collate_fn([dataset[index]])
        prediction = model.predict(images)
        scale = target["scale"][0]
        xy = to_frame_pixels(prediction["xy"][0].float().cpu(), scale).numpy()
        homography = homography_to_frame(prediction["homography"][0].double().cpu(), scale.double()).numpy()
        figure = homography_picture(
            dataset.image(index),
            xy,
            prediction["confidence"][0].float().cpu().numpy(),
            self.keypoints,
            float(cfg.model.min_confidence),
            homography,
        )
        return EvalReport(metrics=metrics, figure=figure)

    def export_meta(self, cfg: DictConfig) -> dict[str, Any]:
        return {
            "keypoint_names": [NAMES_57[k] for k in self.keypoints],
            "keypoint_indices_57": list(self.keypoints),
            "keypoint_world_m": np.asarray(WORLD_57)[list(self.keypoints), :2].tolist(),
            "input_size": list(cfg.data.input_size),
            "padded_size": list(cfg.derived.padded_size),
            "heatmap_stride": int(cfg.model.heatmap_stride),
            "sigma": float(cfg.model.sigma),
            "backbone": cfg.model.backbone,
            "min_confidence": float(cfg.model.min_confidence),
            "homography": "pitch (x, y) metres, origin at the centre mark -> input pixels",
        }
