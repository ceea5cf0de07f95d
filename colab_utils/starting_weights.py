"""``model.init_from``: the weights a new run starts from, applied once and never on resume.

``imagenet`` and ``none`` are decided when the network is built (:func:`imagenet_start`: the
backbone fetches its ImageNet weights or not). Every other value names weights that are read
here after the network is built, when the run folder holds no checkpoint:

* a path or http(s) URL to a portable ``.pth`` (``export``) or to a training checkpoint;
* ``hf://<repo>[@revision]``: a portable ``.pth`` on the Hugging Face Hub (``push_to_hub``);
* a model family's published weights, which the task claims (:meth:`Task.published_weights`:
  detr's COCO-trained DETR through transformers).

Tensors load by name when their shapes match. The task's head (its :attr:`Task.head`, rebuilt
for our classes or identities) may differ and keeps its fresh values; any other difference
means the file holds another network, and it is refused before anything is written.
"""

from __future__ import annotations

import hashlib
import pickle
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import yaml
from omegaconf import DictConfig
from torch import nn

from colab_utils.engine.checkpoint import MAGIC, TRAILER, CorruptCheckpoint, read_checkpoint
from colab_utils.engine.contract import StartingWeights, differences
from colab_utils.errors import InitFromError
from colab_utils.hub import HUB_PREFIX, download_portable
from colab_utils.portable import PORTABLE_FORMAT

if TYPE_CHECKING:
    from colab_utils.engine.contract import Task

IMAGENET, NONE = "imagenet", "none"
SHOWN_DIFFERENCES = 6
USAGE = (
    "model.init_from takes imagenet, none, the path or URL of a .pth this library exported (or of one "
    "of its checkpoints, <run>/checkpoints/best.pth), or hf://<user>/<repo>[@revision]"
)


def imagenet_start(cfg: DictConfig) -> bool:
    """Whether the network is built with its backbone's ImageNet weights (``init_from: imagenet``)."""
    return str(cfg.model.init_from) == IMAGENET


def reads_weights(value: str) -> bool:
    """Whether ``value`` names weights to read (anything but ``imagenet`` and ``none``)."""
    return str(value) not in (IMAGENET, NONE)


def is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def read_starting_weights(cfg: DictConfig, task: Task) -> StartingWeights:
    """The weights ``cfg.model.init_from`` names, read and checked for being this library's."""
    value = str(cfg.model.init_from)
    if value.startswith(HUB_PREFIX):
        path, where = download_portable(value)
        return read_weights_file(path, value, where)
    if is_url(value):
        return read_weights_file(download_url(value), value, value)
    if not Path(value).expanduser().exists():
        published = task.published_weights(cfg, value)
        if published is not None:
            return published
    path = Path(value).expanduser()
    return read_weights_file(path, value, str(path))


def download_url(url: str) -> Path:
    """``url`` downloaded once into the torch hub cache (a later start reads the same file)."""
    folder = Path(torch.hub.get_dir()) / "colab_utils_init_from"
    folder.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(url.encode()).hexdigest()[:16] + "-" + Path(url.split("?")[0]).name
    path = folder / name
    if not path.exists():
        try:
            torch.hub.download_url_to_file(url, str(path), progress=False)
        except OSError as error:  # URLError and HTTPError are OSErrors
            raise InitFromError(
                f"model.init_from={url}: the download failed ({error}). Check the URL and the runtime's "
                "internet connection, or download the file yourself and give its path."
            ) from None
    return path


def read_weights_file(path: Path, shown: str, where: str) -> StartingWeights:
    """A portable ``.pth`` or a training checkpoint, loaded without running any code in it; ``shown`` is
    the ``init_from`` value, ``where`` the file as the report line names it."""
    if not path.is_file():
        raise InitFromError(f"model.init_from={shown}: there is no file {path}. {USAGE}.")
    if _has_checkpoint_trailer(path):
        try:
            payload = read_checkpoint(path)
        except CorruptCheckpoint as error:
            raise InitFromError(
                f"model.init_from={shown}: {error}. This checkpoint is damaged; give another one (the run "
                "folder keeps the newest two and best.pth) or a .pth from the export step."
            ) from None
        trained_as = yaml.safe_load(payload["config"])["run"]["model"]
        return StartingWeights(payload["model"], where, trained_as, payload.get("model_signature"))
    payload = _load_plain(path, shown)
    if not isinstance(payload, dict) or payload.get("format") != PORTABLE_FORMAT:
        raise InitFromError(
            f"model.init_from={shown}: {path.name} is not a weights file of this library (no "
            f"'{PORTABLE_FORMAT}' format tag). {USAGE}."
        )
    return StartingWeights(payload["state_dict"], where, payload["model"], payload.get("model_signature"))


def _has_checkpoint_trailer(path: Path) -> bool:
    size = path.stat().st_size
    if size < TRAILER.size:
        return False
    with open(path, "rb") as f:
        f.seek(size - TRAILER.size)
        return f.read(len(MAGIC)) == MAGIC


def _load_plain(path: Path, shown: str) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise InitFromError(
            f"model.init_from={shown}: {path.name} holds Python objects that a weights-only load refuses, "
            "so this library did not write it as it is; it was not loaded. Export the weights again."
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as error:
        raise InitFromError(
            f"model.init_from={shown}: {path.name} cannot be read ({type(error).__name__}: "
            f"{str(error).splitlines()[0]}): it is damaged or cut short, e.g. by an interrupted download. "
            "Download or export it again."
        ) from None


def load_starting_weights(network: nn.Module, weights: StartingWeights, task: Task, cfg: DictConfig) -> str:
    """Load the tensors of ``weights`` that fit ``network``; refuse another network; the report line."""
    model = str(cfg.run.model)
    value = str(cfg.model.init_from)
    if weights.model is not None and weights.model != model:
        raise InitFromError(
            f"model.init_from={value}: {weights.where} holds {weights.model} weights and this run trains "
            f"{model}. Give a file exported from a {model} run."
        )
    own = network.state_dict()
    saved = weights.state_dict
    in_head = task.in_head
    mismatched = [k for k in saved if k in own and saved[k].shape != own[k].shape]
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own]
    refused = [k for k in (*mismatched, *missing, *unexpected) if not in_head(k)]
    if refused:
        raise InitFromError(_refusal(value, weights, own, refused, task, cfg))
    fits = {k: v for k, v in saved.items() if k in own and k not in mismatched}
    network.load_state_dict(fits, strict=False)
    line = (
        f"model.init_from={value}: loaded {len(fits)} of {len(own)} tensors from {weights.where}; "
        f"missing {len(missing)}, shape-mismatched {len(mismatched)}"
    )
    kept = [*(f"{k} {list(saved[k].shape)} -> {list(own[k].shape)}" for k in mismatched), *missing]
    if kept:
        line += f" (the head, rebuilt for this run, keeps its fresh values: {', '.join(kept)})"
    return line + "."


def _refusal(
    value: str, weights: StartingWeights, own: dict, refused: list[str], task: Task, cfg: DictConfig
) -> str:
    """What differs between the file's network and this run's: config keys when known, else tensors."""
    saved = weights.state_dict
    lines = []
    if weights.signature is not None:
        lines = differences(weights.signature, task.model_signature(cfg), labels=("file", "this run"))
    for key in refused[:SHOWN_DIFFERENCES]:
        if key not in saved:
            lines.append(f"{key}: not in the file")
        elif key not in own:
            lines.append(f"{key}: not in this run's network")
        else:
            lines.append(f"{key}: file {list(saved[key].shape)}, this run {list(own[key].shape)}")
    if len(refused) > SHOWN_DIFFERENCES:
        lines.append(f"... and {len(refused) - SHOWN_DIFFERENCES} more tensors")
    changes = "\n  ".join(lines)
    return (
        f"model.init_from={value}: {weights.where} holds a differently shaped {cfg.run.model} network, so it "
        f"was not loaded:\n  {changes}\nSet the model keys above to the file's values (overrides), or give "
        "weights of this network."
    )


def apply(cfg: DictConfig, task: Task, network: nn.Module) -> str | None:
    """For a run starting from nothing: load ``init_from``'s weights into ``network``; the report line."""
    if str(cfg.model.init_from) == IMAGENET and not task.imagenet_backbone:
        raise InitFromError(
            f"model.init_from=imagenet: {cfg.run.model} has no backbone with ImageNet weights. {USAGE}."
        )
    if not reads_weights(cfg.model.init_from):
        return None
    weights = read_starting_weights(cfg, task)
    return load_starting_weights(network, weights, task, cfg)
