"""COCO-trained DETR, Conditional DETR and Deformable DETR from the Hub, as starting weights.

``model.init_from: facebook/detr-resnet-50`` (any ``<owner>/<repo>[@revision]`` that is not a
file) is read with transformers' own ``from_pretrained``, so the Hub's layouts (old and new
key names, safetensors or not) are the library's business. Its tensors are then loaded by name
into this run's network like any other starting weights: the backbone and transformer must
have the same shapes, and the class head, which has COCO's 91 classes, is left fresh for ours.
"""

from __future__ import annotations

import re

from omegaconf import DictConfig

from colab_utils import runtime as rt
from colab_utils.engine.contract import StartingWeights
from colab_utils.errors import InitFromError
from colab_utils.models.detr.network import VARIANTS

HUB_MODEL = re.compile(r"^(?P<repo>[\w.-]+/[\w.-]+?)(@(?P<revision>[^@\s]+))?$")
WEIGHT_SUFFIXES = (".pth", ".pt")
# where each variant's COCO weights are published, for the message when variant and checkpoint differ
COCO = {
    "detr": "facebook/detr-resnet-50",
    "conditional_detr": "microsoft/conditional-detr-resnet-50",
    "deformable_detr": "SenseTime/deformable-detr",
}


def hub_model(source: str) -> tuple[str, str | None] | None:
    """(repo id, revision) when ``source`` names a model on the Hub rather than a weights file."""
    match = HUB_MODEL.match(source)
    if match is None or source.endswith(WEIGHT_SUFFIXES):
        return None
    return match["repo"], match["revision"]


def published_detr(cfg: DictConfig, source: str) -> StartingWeights | None:
    """The Hub model ``source`` names, as this network's state dict (``detector.`` + the library's names)."""
    named = hub_model(source)
    if named is None:
        return None
    from transformers import AutoConfig

    repo, revision = named
    variant = str(cfg.model.variant)
    model_class = VARIANTS[variant][1]
    token = rt.secret("HF_TOKEN")
    try:
        config = AutoConfig.from_pretrained(repo, revision=revision, token=token)
    except OSError as error:  # transformers reports a missing repository, file or connection as OSError
        raise InitFromError(
            f"model.init_from={source}: transformers could not read it from the Hugging Face Hub "
            f"({str(error).splitlines()[0]}). Check the name (e.g. {COCO[variant]}) and the internet "
            "connection; a local file must exist at that path."
        ) from None
    if config.model_type != variant:  # the variants are named as transformers names their model types
        fix = f"set model.variant={config.model_type}, or " if config.model_type in VARIANTS else ""
        raise InitFromError(
            f"model.init_from={source} is a {config.model_type} checkpoint and model.variant is {variant}: "
            f"{fix}start {variant} from {COCO[variant]}."
        )
    detector = model_class.from_pretrained(repo, revision=revision, token=token)
    state = {f"detector.{name}": tensor for name, tensor in detector.state_dict().items()}
    return StartingWeights(state, f"{repo} (transformers)")
