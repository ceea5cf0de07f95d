"""Sportlight's HRNet-W48 57-keypoint pitch calibration model (SoccerNet calibration-2023).

The network predicts a heatmap per keypoint at stride 2 plus a background channel; the
camera is then calibrated from the detected keypoints and scored with SoccerNet's
official metric. Everything specific to this model is here and in its YAML.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from colab_utils.calibration.frames import to_frame_pixels
from colab_utils.calibration.heatmaps import MaskedHeatmapLoss, decode
from colab_utils.calibration.metrics import CalibrationScore, KeypointPCK
from colab_utils.calibration.picture import calibration_picture
from colab_utils.calibration.task import KeypointFramesTask, KeypointHeatmapModel
from colab_utils.engine.contract import EvalReport, TrainModel
from colab_utils.geometry.keypoints import NAMES_57, WORLD_57
from colab_utils.models.sportlight_hrnet57.network import HRNetHeatmap
from colab_utils.starting_weights import imagenet_start


class HeatmapDecoder:
    """argus prediction transform: log-probability maps -> keypoints and confidences."""

    def __init__(self, stride: int, valid_size: Sequence[int], sigma: float) -> None:
        self.stride = stride
        self.valid_size = (int(valid_size[1]), int(valid_size[0]))  # config is [W, H]
        self.radius = math.ceil(2.5 * sigma)

    def __call__(self, log_probs: torch.Tensor) -> dict[str, torch.Tensor]:
        xy, confidence = decode(log_probs, self.stride, self.valid_size, self.radius)
        return {"xy": xy, "confidence": confidence}


class HRNetKeypointModel(KeypointHeatmapModel):
    nn_module = HRNetHeatmap
    loss = MaskedHeatmapLoss
    prediction_transform = HeatmapDecoder


class SportlightHRNet57(KeypointFramesTask):
    model_class = HRNetKeypointModel

    def model_params(self, cfg: DictConfig) -> dict[str, Any]:
        stride = int(cfg.model.heatmap_stride)
        return {
            "nn_module": {
                "backbone": cfg.model.backbone,
                "num_keypoints": len(self.keypoints),
                "pretrained": imagenet_start(cfg),
                "grad_checkpointing": bool(cfg.model.grad_checkpointing),
            },
            "loss": {
                "stride": stride,
                "sigma": float(cfg.model.sigma),
                "ce_weight": float(cfg.model.ce_weight),
            },
            "prediction_transform": {
                "stride": stride,
                "valid_size": list(cfg.derived.heatmap_size),
                "sigma": float(cfg.model.sigma),
            },
        }

    def model_signature(self, cfg: DictConfig) -> dict[str, Any]:
        """The network's shape only: loss and decoding settings may change between sessions."""
        shape = {key: cfg.model[key] for key in ("backbone", "heatmap_stride", "pad_multiple")}
        return shape | {"keypoints": list(self.keypoints)}

    def metrics(self, cfg: DictConfig) -> list:
        annotations = self.validation_annotations(cfg)
        confidence = float(cfg.model.min_confidence)
        return [
            KeypointPCK(cfg.eval.pck_thresholds_px, confidence),
            CalibrationScore(annotations, self.keypoints, confidence),
        ]

    def evaluate(self, cfg: DictConfig, model: TrainModel, loader: Any) -> EvalReport:
        metrics = model.validate(loader, metrics=self.metrics(cfg))
        dataset = loader.dataset
        index = int(cfg.eval.picture_frame) % len(dataset)
        images, target = loader.collate_fn([dataset[index]])
        prediction = model.predict(images)
        xy = to_frame_pixels(prediction["xy"][0].float().cpu(), target["scale"][0]).numpy()
        confidence = prediction["confidence"][0].float().cpu().numpy()
        figure = calibration_picture(
            dataset.image(index), xy, confidence, self.keypoints, float(cfg.model.min_confidence)
        )
        return EvalReport(metrics=metrics, figure=figure)

    def export_meta(self, cfg: DictConfig) -> dict[str, Any]:
        return {
            "keypoint_names": [NAMES_57[k] for k in self.keypoints],
            "keypoint_world_m": np.asarray(WORLD_57)[list(self.keypoints)].tolist(),
            "input_size": list(cfg.data.input_size),
            "padded_size": list(cfg.derived.padded_size),
            "heatmap_stride": int(cfg.model.heatmap_stride),
            "backbone": cfg.model.backbone,
            "min_confidence": float(cfg.model.min_confidence),
        }
