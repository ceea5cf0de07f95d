"""What both keypoint calibration models share on the training side: SoccerNet calibration frames
in, keypoint heatmaps out.

:class:`KeypointFramesTask` reads, verifies and augments the frames for any subset of the 57
keypoints (flips rename them with the subset's own permutation); :class:`KeypointHeatmapModel`
runs a heatmap network on them. Each model's package adds its network, loss, decoding, metrics
and picture.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from argus.utils import deep_to
from omegaconf import DictConfig

from colab_utils.calibration import source as calibration_source
from colab_utils.calibration.frames import CalibrationFrames
from colab_utils.calibration.targets_cache import split_targets
from colab_utils.engine.contract import Task, TrainModel


class KeypointHeatmapModel(TrainModel):
    """A heatmap network trained on (image, target) batches; subclasses set its network, loss and decoder."""

    def forward_loss(self, batch: Any) -> tuple[torch.Tensor, Any, Any]:
        images, target = deep_to(batch, device=self.device, non_blocking=True)
        log_probs = self.nn_module(images)
        return self.loss(log_probs, target), log_probs, target


class KeypointFramesTask(Task):
    """A task on SoccerNet calibration-2023 frames, for the keypoints in ``keypoints`` (indices of the 57)."""

    imagenet_backbone = True

    keypoints: tuple[int, ...] = tuple(range(57))

    def prepare_data(self, cfg: DictConfig) -> str:
        summary = calibration_source.prepare(cfg)
        started = time.perf_counter()
        frames = sum(len(self.frames(cfg, split, train=False)) for split in self.training_splits(cfg))
        seconds = time.perf_counter() - started
        return (
            f"{summary}\nKeypoint targets of the {frames:,} training and validation frames: ready in "
            f"{seconds:.0f} s (derived once per runtime and kept beside each split)."
        )

    @staticmethod
    def training_splits(cfg: DictConfig) -> list[str]:
        return list(dict.fromkeys([str(cfg.data.train_split), str(cfg.data.val_split)]))

    def frames(self, cfg: DictConfig, split: str, train: bool) -> CalibrationFrames:
        verified = calibration_source.verified_split(cfg, split)
        margin_px = float(cfg.data.visibility_margin_px)
        return CalibrationFrames(
            verified.pairs,
            cfg.data.input_size,
            cfg.derived.padded_size,
            train=train and bool(cfg.data.augment),
            keypoints=self.keypoints,
            margin_px=margin_px,
            targets=split_targets(verified.pairs, margin_px, verified.split_dir),
        )

    def prepare_split(self, cfg: DictConfig, split: str) -> str:
        return calibration_source.prepare(cfg, [split])

    def split_dataset(self, cfg: DictConfig, split: str) -> CalibrationFrames | None:
        labelled = calibration_source.prepared_split(cfg, split).pairs
        return self.frames(cfg, split, train=False) if labelled else None

    def datasets(self, cfg: DictConfig) -> tuple[CalibrationFrames, CalibrationFrames]:
        return self.frames(cfg, cfg.data.train_split, train=True), self.frames(
            cfg, cfg.data.val_split, train=False
        )

    def validation_annotations(self, cfg: DictConfig) -> list:
        """The validation split's annotations, for the metrics that score against them."""
        return [a for _, a in calibration_source.verified_split(cfg, cfg.data.val_split).pairs]
