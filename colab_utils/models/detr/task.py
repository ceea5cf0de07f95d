"""detr: players, goalkeepers, referees and the ball in broadcast frames, end to end with DETR.

The network (:mod:`colab_utils.models.detr.network`) is ``transformers``' DETR, or one of its
faster-converging relatives chosen by ``model.variant``, on a timm backbone; it predicts a
fixed set of boxes and learns with its built-in Hungarian-matched loss. Frames come from
SoccerNet tracking-2023 (MOT files) or gamestate-2024 (Labels-GameState.json), or from the
generator that writes both formats (:mod:`colab_utils.models.detr.source`); an epoch reads a
few frames of every clip (:mod:`colab_utils.models.detr.frames`). Everything specific to this
model is here and in ``configs/detr.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from argus.model.build import cast_optimizer, choose_attribute_from_dict
from argus.utils import deep_to
from omegaconf import DictConfig, OmegaConf
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorMode, is_fake

from colab_utils.engine.contract import EvalReport, StartingWeights, Task, TrainModel
from colab_utils.models.detr import folder as detr_folder
from colab_utils.models.detr import source as detr_source
from colab_utils.models.detr.decode import DetectionDecoder
from colab_utils.models.detr.frames import CLASSES, DetectionFrames, collate
from colab_utils.models.detr.metrics import DetectionMAP, cxcywh_to_frame_xyxy
from colab_utils.models.detr.network import DetrDetector
from colab_utils.models.detr.picture import detection_picture
from colab_utils.models.detr.published import published_detr
from colab_utils.starting_weights import imagenet_start

SHAPE_KEYS = (
    "variant",
    "backbone",
    "num_queries",
    "d_model",
    "layers",
    "ffn_dim",
    "heads",
    "dilation",
    "box_refine",
    "backbone_norm",
)


class LibraryLoss(nn.Module):
    """The loss ``transformers`` computed in the forward pass (Hungarian matching + class, L1, GIoU).

    The matching needs the decoder's intermediate outputs and the model's config, so the
    library computes it inside the network's forward when given labels; this argus loss
    hands that value to the engine.
    """

    def forward(self, outputs: Any, target: dict) -> torch.Tensor:
        return outputs.loss


def _shapes_only(images: torch.Tensor) -> bool:
    """Meta or fake tensors: the time and memory estimates run the step without any numbers."""
    return images.device.type == "meta" or is_fake(images)


class DetrModel(TrainModel):
    nn_module = DetrDetector
    loss = LibraryLoss
    prediction_transform = DetectionDecoder

    def build_optimizer(self, optimizer_meta: Any, optim_params: Any) -> torch.optim.Optimizer:
        """DETR's two learning rates: the backbone's is ``model.backbone_lr_factor`` times the rest."""
        optimizer, params = choose_attribute_from_dict(optimizer_meta, optim_params)
        groups = self.nn_module.parameter_groups(float(params["lr"]))
        return cast_optimizer(optimizer)(params=groups, **params)

    def forward_loss(self, batch: Any) -> tuple[torch.Tensor, Any, Any]:
        images, target = deep_to(batch, device=self.device, non_blocking=True)
        if _shapes_only(images):
            # Time and memory estimates run the step without numbers, and the library reads some:
            # the matching (scipy), the training-mode overflow check of the encoder, and the
            # attention mask unless it sees fake tensors (its "tracing" check). So the network
            # runs in eval mode (dropout off: the same work), meta inputs become fake ones, and
            # a stand-in loss on the same outputs costs the same backward pass (the matching's
            # own share is negligible).
            training = self.nn_module.training
            self.nn_module.eval()
            try:
                if is_fake(images):
                    outputs = self.nn_module(images)
                else:
                    with FakeTensorMode(allow_non_fake_inputs=True) as mode:
                        outputs = self.nn_module(mode.from_tensor(images))
            finally:
                self.nn_module.train(training)
            loss = outputs.logits.float().mean() + outputs.pred_boxes.float().mean()
        else:
            outputs = self.nn_module(images, target["labels"])
            loss = self.loss(outputs, target)
        return loss, {"logits": outputs.logits, "pred_boxes": outputs.pred_boxes}, target


class Detr(Task):
    imagenet_backbone = True
    model_class = DetrModel
    # the class logits (detr, conditional_detr: one layer; deformable_detr: one per decoder layer)
    head = ("detector.class_labels_classifier.", "detector.class_embed.")

    def published_weights(self, cfg: DictConfig, source: str) -> StartingWeights | None:
        """COCO-trained DETRs on the Hub (``facebook/detr-resnet-50`` and the like) via transformers."""
        return published_detr(cfg, source)

    def prepare_data(self, cfg: DictConfig) -> str:
        summary = detr_folder.prepare_folder(cfg) if cfg.data.source == "folder" else detr_source.prepare(cfg)
        return (
            f"{summary}\n{detr_source.selection_note(cfg)}\nClasses detected: {', '.join(CLASSES)}; boxes of "
            "other roles (SoccerNet's 'other': staff, spectators) are left out of training and scoring."
        )

    def prepare_split(self, cfg: DictConfig, split: str) -> str:
        return detr_source.prepare(cfg, [split])

    def split_dataset(self, cfg: DictConfig, split: str) -> DetectionFrames | None:
        clips = detr_source.labelled_clips(cfg, split)
        return self._frames(cfg, clips, train=False) if clips else None

    def model_params(self, cfg: DictConfig) -> dict[str, Any]:
        model = cfg.model
        return {
            "nn_module": {
                "variant": model.variant,
                "backbone": model.backbone,
                "pretrained": imagenet_start(cfg),
                "classes": list(CLASSES),
                "num_queries": int(model.num_queries),
                "d_model": int(model.d_model),
                "layers": [int(n) for n in model.layers],
                "ffn_dim": int(model.ffn_dim),
                "heads": int(model.heads),
                "dropout": float(model.dropout),
                "aux_loss": bool(model.aux_loss),
                "backbone_lr_factor": float(model.backbone_lr_factor),
                "dilation": bool(model.dilation),
                "box_refine": bool(model.box_refine),
                "backbone_norm": str(model.backbone_norm),
                "grad_checkpointing": bool(model.grad_checkpointing),
            },
            "loss": {},
            "prediction_transform": {"variant": model.variant, "top_k": int(cfg.eval.max_detections)},
        }

    def model_signature(self, cfg: DictConfig) -> dict[str, Any]:
        """The network's shape only: learning rates, dropout and the loss may change between sessions."""
        model = OmegaConf.to_container(cfg.model, resolve=True)
        return {key: model[key] for key in SHAPE_KEYS} | {"classes": list(CLASSES)}

    def frames(self, cfg: DictConfig, split: str, train: bool) -> DetectionFrames:
        return self._frames(cfg, detr_source.split_clips(cfg, split), train)

    def _frames(self, cfg: DictConfig, clips: list, train: bool) -> DetectionFrames:
        per_clip = cfg.data.frames_per_clip.train if train else cfg.data.frames_per_clip.valid
        return DetectionFrames(clips, int(per_clip), cfg.data.input_size, train, bool(cfg.data.augment))

    def datasets(self, cfg: DictConfig) -> tuple[DetectionFrames, DetectionFrames]:
        """The training clips, and the clips that choose the best weights (never the test split)."""
        trained_on, selection = detr_source.training_clips(cfg)
        return self._frames(cfg, trained_on, True), self._frames(cfg, selection, False)

    def collate_fn(self) -> Callable:
        return collate

    def metrics(self, cfg: DictConfig) -> list:
        return [DetectionMAP(CLASSES)]

    def evaluate(self, cfg: DictConfig, model: TrainModel, loader: Any) -> EvalReport:
        """COCO metrics on the validation frames, and one frame with its true and detected boxes."""
        metrics = model.validate(loader, metrics=self.metrics(cfg))
        dataset: DetectionFrames = loader.dataset
        index = int(cfg.eval.picture_frame) % len(dataset)
        images, target = loader.collate_fn([dataset[index]])
        detections = model.predict(images)[0]
        size = target["frame_size"][0]
        boxes = (detections["boxes"].float().cpu() * size.repeat(2)).numpy()
        truth = target["labels"][0]
        true_boxes = cxcywh_to_frame_xyxy(truth["boxes"], size).numpy()
        clip = dataset.clips[int(target["clip"][0])]
        figure = detection_picture(
            dataset.image(index),
            (true_boxes, truth["class_labels"].numpy()),
            (boxes, detections["labels"].cpu().numpy(), detections["scores"].float().cpu().numpy()),
            CLASSES,
            float(cfg.eval.picture_threshold),
            title=f"{clip.name} frame {int(target['frame'][0])}: dashed = truth, solid = detected "
            f"(score >= {float(cfg.eval.picture_threshold):g}); mAP@0.5 over the validation frames "
            f"{metrics.get('val_map_50', float('nan')):.3f}",
        )
        return EvalReport(metrics=metrics, figure=figure, details={"picture_sample": index})

    def export_meta(self, cfg: DictConfig) -> dict[str, Any]:
        width, height = (int(v) for v in cfg.data.input_size)
        return {
            "classes": list(CLASSES),
            "variant": cfg.model.variant,
            "backbone": cfg.model.backbone,
            "num_queries": int(cfg.model.num_queries),
            "input_size": [width, height],
            "input": "RGB uint8 (B, 3, H, W) resized to input_size; the network normalises it itself",
            "normalisation": {
                "mean": [float(v) for v in np.asarray(IMAGENET_DEFAULT_MEAN) * 255],
                "std": [float(v) for v in np.asarray(IMAGENET_DEFAULT_STD) * 255],
                "scale": "0-255",
            },
            "output": "logits (B, queries, classes + 1 for detr, classes otherwise), "
            "pred_boxes (B, queries, 4) as normalised (cx, cy, w, h)",
            "score": "softmax without the last 'no object' column"
            if cfg.model.variant == "detr"
            else "sigmoid",
            "state_dict": "keys are 'detector.' + those of transformers' <Variant>ForObjectDetection",
        }
