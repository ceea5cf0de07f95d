"""ball3d: the ball's 3-D position in every frame of a broadcast clip, from its 2-D track.

Trained on synthetic physics (:mod:`colab_utils.models.ball3d.synthetic.clips`): shots, passes,
lobs, crosses and headers with drag, bounces and rolling, seen by broadcast cameras with a
noisy ball detector. The network (:mod:`colab_utils.models.ball3d.network`) places the ball
along the ray through its (corrected) track point; the baseline it must beat is the ball
lying on the ground where that ray meets it. Everything specific to this model is here
and in ``configs/ball3d.yaml``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from argus.utils import deep_to
from omegaconf import DictConfig

from colab_utils.engine.contract import EvalReport, Task, TrainModel
from colab_utils.models.ball3d.loss import Ball3DLoss
from colab_utils.models.ball3d.metrics import TrajectoryErrors
from colab_utils.models.ball3d.network import Ball3DNet, decode
from colab_utils.models.ball3d.picture import trajectory_picture
from colab_utils.models.ball3d.samples import GEOMETRY_FEATURES, BallClips, clip_spec
from colab_utils.models.ball3d.shards import ClipShards, build_shards, shard_folder
from colab_utils.models.ball3d.synthetic.clips import BallClip
from colab_utils.models.ball3d.synthetic.physics import SEGMENT_NAMES
from colab_utils.starting_weights import imagenet_start


def _describe(clip: BallClip) -> str:
    return f"a {clip.play.replace('_', ' ')} seen by a {clip.camera_kind.replace('_', ' ')} camera"


class Ball3DModel(TrainModel):
    nn_module = Ball3DNet
    loss = Ball3DLoss

    def forward_loss(self, batch: Any) -> tuple[torch.Tensor, Any, Any]:
        inputs, target = deep_to(batch, device=self.device, non_blocking=True)
        raw = self.nn_module(inputs["crops"], inputs["geometry"])
        prediction = decode(raw, inputs)
        return self.loss(prediction, target), prediction, target


class Ball3D(Task):
    imagenet_backbone = True
    model_class = Ball3DModel

    def prepare_data(self, cfg: DictConfig) -> str:
        """Render the clips once into shards (``data.render_once``), and say what was generated."""
        spec = clip_spec(cfg)
        train, valid = self._splits(cfg)
        stored = "generated from their index when loaded (nothing stored)"
        if cfg.data.render_once:
            workers = max(1, int(cfg.data.num_workers))
            folders = [build_shards(Path(cfg.run.data_dir), split, workers) for split in (train, valid)]
            stored = f"rendered once into verified shards in {folders[0].parent}"
        started = time.perf_counter()
        clip = valid.clip(0)
        seconds = time.perf_counter() - started
        return (
            f"ball3d: synthetic clips, {stored}: {len(train):,} training and {len(valid):,} validation clips "
            f"of {spec.frames} frames at {spec.fps:g} fps ({spec.frames / spec.fps:.2f} s), "
            f"{spec.crop_size}x{spec.crop_size} crops from {spec.frame_size[0]}x{spec.frame_size[1]} "
            f"broadcast frames. Rendering one clip took {seconds * 1000:.0f} ms here (validation clip 0: "
            f"{_describe(clip)}, {int(clip.detected.sum())}/{spec.frames} frames detected)."
        )

    def model_params(self, cfg: DictConfig) -> dict[str, Any]:
        spec = clip_spec(cfg)
        return {
            "nn_module": {
                "backbone": cfg.model.backbone,
                "pretrained": imagenet_start(cfg),
                "geometry_features": len(GEOMETRY_FEATURES),
                "embed_dim": int(cfg.model.embed_dim),
                "tcn_channels": [int(c) for c in cfg.model.tcn_channels],
                "kernel_size": int(cfg.model.tcn_kernel),
                "dropout": float(cfg.model.dropout),
                "grad_checkpointing": bool(cfg.model.grad_checkpointing),
            },
            "loss": {
                **{name: float(weight) for name, weight in cfg.loss.items()},
                "fps": spec.fps,
                "gravity": spec.params.gravity,
                "drag_per_metre": spec.params.drag_per_metre,
            },
        }

    def _splits(self, cfg: DictConfig) -> tuple[BallClips, BallClips]:
        spec, data = clip_spec(cfg), cfg.data
        train = BallClips(spec, int(data.clips.train), int(data.content_seed), "train", bool(data.augment))
        valid = BallClips(spec, int(data.clips.valid), int(data.content_seed), "valid")
        return train, valid

    def datasets(self, cfg: DictConfig) -> tuple[BallClips, BallClips]:
        """The two splits, read from the data step's shards when ``data.render_once`` (else rendered)."""
        splits = self._splits(cfg)
        if cfg.data.render_once:
            for split in splits:
                split.shards = ClipShards(shard_folder(Path(cfg.run.data_dir), split), len(split))
        return splits

    def metrics(self, cfg: DictConfig) -> list:
        return [TrajectoryErrors()]

    def model_signature(self, cfg: DictConfig) -> dict[str, Any]:
        return {**super().model_signature(cfg), "features": list(GEOMETRY_FEATURES)}

    def evaluate(self, cfg: DictConfig, model: TrainModel, loader: Any) -> EvalReport:
        """Metrics on the validation clips, and a picture of the highest-flying of the first few."""
        metrics = model.validate(loader, metrics=self.metrics(cfg))
        dataset: BallClips = loader.dataset
        candidates = range(min(int(cfg.eval.picture_candidates), len(dataset)))
        index = max(candidates, key=lambda i: float(-dataset.clip(i).positions[:, 2].min()))
        clip = dataset.clip(index)
        output = model.val_step(loader.collate_fn([dataset[index]]))
        predicted = output["prediction"]["position"][0].float().cpu().numpy()
        baseline = output["target"]["baseline"][0].float().cpu().numpy()
        error = np.linalg.norm(predicted - clip.positions, axis=1).mean()
        figure = trajectory_picture(
            clip.times - clip.times[0],
            {"truth": clip.positions, "model": predicted, "baseline": baseline},
            clip.cameras[0].position,
            clip.detected,
            title=f"validation clip {index}: {_describe(clip)}; mean 3-D error: model {error:.2f} m, "
            f"ball on the ground {np.linalg.norm(baseline - clip.positions, axis=1).mean():.2f} m",
        )
        return EvalReport(metrics=metrics, figure=figure, details={"picture_clip": index})

    def export_meta(self, cfg: DictConfig) -> dict[str, Any]:
        spec = clip_spec(cfg)
        return {
            "backbone": cfg.model.backbone,
            "frames": spec.frames,
            "fps": spec.fps,
            "frame_size": list(spec.frame_size),
            "crop_size": spec.crop_size,
            "crop_ball_radii": spec.crop_ball_radii,
            "geometry_features": list(GEOMETRY_FEATURES),
            "segment_labels": list(SEGMENT_NAMES),
            "ball_radius_m": spec.params.radius,
            "output": "per frame: track correction (crop pixels, 2) and log(depth / ground depth) (1)",
        }
