"""OSNet weights from torchreid's model zoo as reid's starting weights: ``model.init_from=torchreid:<file>``.

torchreid publishes OSNets trained for person re-identification on Market-1501, DukeMTMC-reID and
MSMT17 (its docs/MODEL_ZOO.md), a closer start for players than ImageNet. They are hosted on
mega.nz, which a notebook cannot download unattended: download one in the browser (e.g.
osnet_x1_0 trained on MSMT17 with ``combineall``), put it on Drive, and give its path (or a URL
where you host it). The file is what torchreid's ``save_checkpoint`` writes (a dict with
``state_dict``, keys perhaps prefixed ``module.``) or a bare state dict; it is read without
running code in it. Its classifier (one row per zoo identity) is dropped: the backbone's tensors
load into ``backbone.`` by name, and the embedding head on top starts fresh for our identities.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch
from omegaconf import DictConfig

from colab_utils.engine.contract import StartingWeights
from colab_utils.errors import InitFromError
from colab_utils.starting_weights import download_url, is_url

PREFIX = "torchreid:"
ZOO = "torchreid's model zoo (github.com/KaiyangZhou/deep-person-reid, docs/MODEL_ZOO.md)"


def published_osnet(cfg: DictConfig, source: str) -> StartingWeights | None:
    """The zoo file ``source`` names, as this network's backbone tensors; None for other values."""
    if not source.startswith(PREFIX):
        return None
    where = source[len(PREFIX) :]
    path = download_url(where) if is_url(where) else Path(where).expanduser()
    if not path.is_file():
        raise InitFromError(
            f"model.init_from={source}: there is no file {path}. {ZOO} hosts its OSNets on mega.nz: "
            f"download one for model.arch={cfg.model.arch} in the browser, upload it to Drive and give "
            f"model.init_from={PREFIX}/content/drive/MyDrive/<file>.pth."
        )
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError) as error:
        raise InitFromError(
            f"model.init_from={source}: {path.name} cannot be read as a torchreid checkpoint "
            f"({type(error).__name__}: {str(error).splitlines()[0]}). Download it again from {ZOO}."
        ) from None
    state = saved.get("state_dict", saved) if isinstance(saved, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InitFromError(
            f"model.init_from={source}: {path.name} holds no state dict of tensors, so it is not a "
            f"torchreid checkpoint. Give a file from {ZOO}."
        )
    backbone = {
        f"backbone.{name.removeprefix('module.')}": tensor
        for name, tensor in state.items()
        if not name.removeprefix("module.").startswith("classifier.")
    }
    return StartingWeights(backbone, f"{path.name} ({ZOO})")
