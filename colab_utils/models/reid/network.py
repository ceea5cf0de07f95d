"""The reid network: OSNet (torchreid) features, a BNNeck embedding, a classifier and the class centres.

``uint8 RGB (B, 3, H, W)`` -> a dict:

* ``feature`` (B, D): after OSNet's global pooling and fc layer (and an optional linear
  bottleneck to D = ``embed_dim``); the triplet and centre losses read it;
* ``embedding`` (B, D): ``feature`` through a batch norm without bias ("BNNeck", Luo et al.,
  Bag of Tricks for person re-id, 2019): the vector used for retrieval, by cosine distance;
* ``logits`` (B, classes): a bias-free linear classifier on ``embedding`` (the softmax loss);
* ``centers`` (classes, D): the centre loss's class centres.

The centres live here, in the network, rather than in the loss module: argus builds the
optimizer from the network's parameters and the engine checkpoints the network's state dict,
so being here is what puts them in both (:func:`parameter_groups` exempts them from weight
decay, which would otherwise pull them to zero as hard as the loss pulls them to the features).
The classifier and centres are training heads: inference needs ``embedding`` only.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

from colab_utils.grad_checkpointing import recompute_in_backward
from colab_utils.imagenet import register_imagenet_stats


def _torchreid():
    with warnings.catch_warnings():  # "Cython evaluation ... unavailable": we do not use its ranking code
        warnings.simplefilter("ignore", UserWarning)
        import torchreid
    return torchreid


def _imagenet_file(arch: str) -> Path:
    """Where torchreid keeps the ImageNet weights it downloads (its own rule: $TORCH_HOME/checkpoints)."""
    cache = os.getenv("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    home = os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(cache, "torch")))
    return Path(home) / "checkpoints" / f"{arch}_imagenet.pth"


def build_backbone(arch: str, pretrained: bool) -> nn.Module:
    """A torchreid model whose forward returns its pooled feature vector (the classifier removed)."""
    torchreid = _torchreid()
    factory = torchreid.models.__model_factory
    if arch not in factory:
        raise ValueError(
            f"model.arch={arch!r} is not a torchreid model; OSNets: "
            f"{', '.join(name for name in factory if name.startswith('osnet'))}"
        )
    try:
        model = torchreid.models.build_model(arch, num_classes=1, loss="softmax", pretrained=pretrained)
    except Exception as err:
        if not pretrained:
            raise
        cached = _imagenet_file(arch)
        cached.unlink(missing_ok=True)  # a cut download would otherwise be trusted next time
        raise RuntimeError(
            f"Could not load the ImageNet weights of {arch} ({type(err).__name__}: {err}). torchreid "
            "downloads them from Google Drive with gdown, which refuses popular files for a while: run the "
            f"cell again later, or save the file yourself as {cached}, or train from scratch with "
            "model.init_from=none."
        ) from err
    model.classifier = nn.Identity()  # in training mode torchreid returns classifier(feature)
    return model


def osnet_stages(model: nn.Module) -> list[nn.Module]:
    """An OSNet's four stages after its stem (conv2-conv5), which hold nearly all its activations."""
    names = ("conv2", "conv3", "conv4", "conv5")
    if not all(isinstance(getattr(model, name, None), nn.Module) for name in names):
        raise ValueError(f"model.grad_checkpointing covers the OSNets (conv2-5), not {type(model).__name__}")
    return [getattr(model, name) for name in names]


class ReidNet(nn.Module):
    def __init__(
        self, arch: str, num_classes: int, embed_dim: int, pretrained: bool, grad_checkpointing: bool = False
    ) -> None:
        super().__init__()
        self.backbone = build_backbone(arch, pretrained)
        if grad_checkpointing:
            recompute_in_backward(osnet_stages(self.backbone))
        width = int(self.backbone.feature_dim)
        self.bottleneck = nn.Identity() if embed_dim == width else nn.Linear(width, embed_dim)
        self.neck = nn.BatchNorm1d(embed_dim)
        self.neck.bias.requires_grad_(False)
        self.classifier = nn.Linear(embed_dim, num_classes, bias=False)
        nn.init.normal_(self.classifier.weight, std=0.001)
        self.centers = nn.Parameter(torch.randn(num_classes, embed_dim))
        register_imagenet_stats(self)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (images.float() - self.mean) / self.std
        feature = self.bottleneck(self.backbone(x))
        embedding = self.neck(feature)
        return {
            "feature": feature,
            "embedding": embedding,
            "logits": self.classifier(embedding),
            "centers": self.centers,
        }


def parameter_groups(net: nn.Module, weight_decay: float) -> list[dict]:
    """The optimizer's groups: the centres without weight decay, everything else with it."""
    centers = [p for name, p in net.named_parameters() if name.endswith("centers") and p.requires_grad]
    others = [p for name, p in net.named_parameters() if not name.endswith("centers") and p.requires_grad]
    return [{"params": others, "weight_decay": weight_decay}, {"params": centers, "weight_decay": 0.0}]
