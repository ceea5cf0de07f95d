"""DETR and its faster-converging relatives from ``transformers``, on a timm backbone.

``variant`` picks the model class: ``detr`` (Carion et al. 2020: one stride-32 feature map,
global attention, a softmax over classes + "no object"; 500 epochs on COCO), ``conditional_detr``
(Meng et al. 2021: queries that carry a spatial prior, sigmoid focal classification; as good
in 50 epochs) or ``deformable_detr`` (Zhu et al. 2021: attention to a few sampled points over
strides 8-64, much better on small objects such as the ball; 50 epochs). All three compute
their Hungarian-matched loss (classes + L1 + GIoU, and the same on every decoder layer with
``aux_loss``) inside the library's forward; the deformable attention has a plain-PyTorch
path (``grid_sample``), so no custom CUDA kernel is needed.

The network takes uint8 images and normalises them itself, so the loader ships bytes.

One change to the library's model, made here by hand: it freezes the backbone's batch norms
(right for ImageNet or COCO weights and 2-4 images per GPU). On a backbone trained from scratch
(``init_from: none``) the frozen norms are the identity, and timm zero-initialises the
last norm of every residual block, so those blocks would stay switched off for ever. Such a
backbone gets trainable GroupNorm instead (``backbone_norm: group``; from-scratch detectors
train well with it).

``grad_checkpointing`` recomputes in the backward pass what the library's
``gradient_checkpointing_enable`` covers (every encoder and decoder layer) and, since the
library leaves its timm backbone out, the backbone's four residual stages.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import transformers
from torch import nn
from transformers import (
    ConditionalDetrConfig,
    ConditionalDetrForObjectDetection,
    DeformableDetrConfig,
    DeformableDetrForObjectDetection,
    DetrConfig,
    DetrForObjectDetection,
)

from colab_utils.grad_checkpointing import recompute_in_backward, resnet_stages
from colab_utils.imagenet import register_imagenet_stats

VARIANTS = {
    "detr": (DetrConfig, DetrForObjectDetection),
    "conditional_detr": (ConditionalDetrConfig, ConditionalDetrForObjectDetection),
    "deformable_detr": (DeformableDetrConfig, DeformableDetrForObjectDetection),
}


def detector_config(
    variant: str,
    backbone: str,
    pretrained: bool,
    num_labels: int,
    num_queries: int,
    d_model: int,
    layers: Sequence[int],
    ffn_dim: int,
    heads: int,
    dropout: float,
    aux_loss: bool,
    dilation: bool = False,
    box_refine: bool = False,
):
    """The library's config for ``variant`` with a timm backbone (and its multi-scale levels for deformable).

    ``dilation`` (detr, conditional_detr): DETR's "DC5", the backbone's last stage dilated instead of
    strided, so the transformer sees the frame at 1/16 rather than 1/32 (better on small objects, ~2x
    the compute). ``box_refine`` (deformable_detr): each decoder layer corrects the boxes of the
    layer before it instead of predicting them afresh (Zhu et al.'s "iterative bounding box
    refinement"): sharper boxes, which a ball of a few pixels needs to reach IoU 0.5.
    """
    if variant not in VARIANTS:
        raise ValueError(f"model.variant={variant!r} is not one of {', '.join(VARIANTS)}")
    if int(transformers.__version__.split(".")[0]) < 5:
        raise ImportError(
            f"detr needs transformers 5 or newer (its timm-backbone configuration); this runtime has "
            f"{transformers.__version__}. Run `pip install -U 'transformers>=5'`, restart the runtime and "
            "run again."
        )
    config_class, _ = VARIANTS[variant]
    levels = {"out_indices": [2, 3, 4]} if variant == "deformable_detr" else {"out_indices": [4]}
    if dilation and variant == "deformable_detr":
        raise ValueError(
            "model.dilation is for detr and conditional_detr; deformable_detr already sees 1/8 of the frame"
        )
    if box_refine and variant != "deformable_detr":
        raise ValueError("model.box_refine is for deformable_detr; set it false for the other variants")
    extra = {"num_feature_levels": 4, "with_box_refine": box_refine} if variant == "deformable_detr" else {}
    if dilation:
        levels["output_stride"] = 16
    encoder_layers, decoder_layers = (int(n) for n in layers)
    return config_class(
        backbone_config={
            "model_type": "timm_backbone",
            "backbone": backbone,
            "num_channels": 3,
            "features_only": True,
            "use_pretrained_backbone": pretrained,
            **levels,
        },
        num_labels=num_labels,
        num_queries=num_queries,
        d_model=d_model,
        encoder_layers=encoder_layers,
        decoder_layers=decoder_layers,
        encoder_ffn_dim=ffn_dim,
        decoder_ffn_dim=ffn_dim,
        encoder_attention_heads=heads,
        decoder_attention_heads=heads,
        dropout=dropout,
        auxiliary_loss=aux_loss,
        **extra,
    )


def _trainable_norms(module: nn.Module) -> int:
    """Replace the library's frozen batch norms under ``module`` by GroupNorm; how many were replaced."""
    replaced = 0
    for name, child in module.named_children():
        if type(child).__name__.endswith("FrozenBatchNorm2d"):
            channels = child.weight.shape[0]
            # 32 groups as usual, but never fewer than 8 channels a group: one channel a group would
            # normalise away each channel's mean, which carries the kits' colours
            setattr(module, name, nn.GroupNorm(math.gcd(32, max(1, channels // 8)), channels))
            replaced += 1
        else:
            replaced += _trainable_norms(child)
    return replaced


def _checkpoint_layers(detector: nn.Module) -> None:
    """The library's own checkpointing of its encoder and decoder layers, non-reentrant.

    Later transformers 5 releases renamed ``gradient_checkpointing_enable`` (now deprecated)
    ``activation_checkpointing_enable``; the earlier ones have only the old name.
    """
    kwargs = {"use_reentrant": False}
    if hasattr(detector, "activation_checkpointing_enable"):
        detector.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        detector.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


class DetrDetector(nn.Module):
    """uint8 images (B, 3, H, W) -> the library's detection output (with ``loss`` when given labels)."""

    def __init__(
        self,
        variant: str,
        backbone: str,
        pretrained: bool,
        classes: Sequence[str],
        num_queries: int,
        d_model: int,
        layers: Sequence[int],
        ffn_dim: int,
        heads: int,
        dropout: float,
        aux_loss: bool,
        backbone_lr_factor: float = 0.1,
        dilation: bool = False,
        box_refine: bool = False,
        backbone_norm: str = "frozen",
        grad_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        if backbone_norm not in ("frozen", "group"):
            raise ValueError(f"model.backbone_norm={backbone_norm!r} is not one of frozen, group")
        config = detector_config(
            variant,
            backbone,
            pretrained,
            len(classes),
            num_queries,
            d_model,
            layers,
            ffn_dim,
            heads,
            dropout,
            aux_loss,
            dilation,
            box_refine,
        )
        config.id2label = dict(enumerate(classes))
        config.label2id = {name: i for i, name in enumerate(classes)}
        self.variant = variant
        self.detector = VARIANTS[variant][1](config)
        if backbone_norm == "group":
            _trainable_norms(self.backbone_module())
        if grad_checkpointing:
            _checkpoint_layers(self.detector)
            recompute_in_backward(resnet_stages(self.backbone_module()))
        self.backbone_lr_factor = float(backbone_lr_factor)
        register_imagenet_stats(self)

    def backbone_module(self) -> nn.Module:
        return self.detector.model.backbone.model

    def parameter_groups(self, lr: float) -> list[dict]:
        """Two optimizer groups, the transformer's first: DETR trains its backbone 10x slower."""
        backbone = {id(p) for p in self.backbone_module().parameters()}
        trainable = [p for p in self.parameters() if p.requires_grad]
        return [
            {"params": [p for p in trainable if id(p) not in backbone], "lr": lr},
            {"params": [p for p in trainable if id(p) in backbone], "lr": lr * self.backbone_lr_factor},
        ]

    def forward(self, images: torch.Tensor, labels: list[dict] | None = None):
        pixels = (images.float() - self.mean) / self.std
        return self.detector(pixel_values=pixels, labels=labels)
