"""``model.init_from=torchreid:<file>``: an OSNet from torchreid's model zoo starts a reid run."""

from __future__ import annotations

import pytest
import torch

from colab_utils import starting_weights
from colab_utils.config import load_config
from colab_utils.errors import InitFromError
from colab_utils.models.reid.network import build_backbone
from colab_utils.pipeline import prepare_data
from colab_utils.registry import get_task


@pytest.fixture(scope="module")
def smoke_data(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLAB_UTILS_DRIVE", str(tmp_path_factory.mktemp("drive")))
        patch.setenv("COLAB_UTILS_DATA", str(tmp_path_factory.mktemp("data")))
        prepare_data(load_config("reid", "smoke", ["logging.progress=false"], verbose=False))
        yield


def zoo_checkpoint(path, arch: str = "osnet_x0_25", zoo_identities: int = 4101) -> dict:
    """A checkpoint laid out as torchreid's save_checkpoint writes it after DataParallel training."""
    torch.manual_seed(3)
    net = build_backbone(arch, pretrained=False)
    net.classifier = torch.nn.Linear(net.feature_dim, zoo_identities)  # MSMT17's identities
    state = {f"module.{name}": tensor for name, tensor in net.state_dict().items()}
    torch.save({"state_dict": state, "epoch": 150, "rank1": 0.749, "optimizer": {"param_groups": []}}, path)
    return state


def network_started_from(value: str):
    cfg = load_config("reid", "smoke", [f"model.init_from={value}"], verbose=False)
    task = get_task("reid")
    network = task.build_model(cfg, torch.device("cpu")).get_nn_module()
    return network, starting_weights.apply(cfg, task, network)


def test_a_zoo_osnet_loads_into_the_backbone_and_the_head_starts_fresh(smoke_data, tmp_path):
    path = tmp_path / "osnet_x0_25_msmt17.pth"
    zoo = zoo_checkpoint(path)
    network, line = network_started_from(f"torchreid:{path}")
    own = network.state_dict()
    backbone = [name for name in zoo if not name.startswith("module.classifier.")]
    for name in backbone:
        assert torch.equal(own[f"backbone.{name.removeprefix('module.')}"], zoo[name]), name
    assert f"loaded {len(backbone)} of {len(own)} tensors from osnet_x0_25_msmt17.pth" in line
    assert "torchreid's model zoo" in line and "classifier.weight" in line  # the fresh head is named


def test_zoo_files_that_cannot_start_the_run_say_what_to_do(smoke_data, tmp_path):
    with pytest.raises(InitFromError, match=r"mega\.nz.*model\.init_from=torchreid:/content/drive"):
        network_started_from(f"torchreid:{tmp_path / 'missing.pth'}")
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(InitFromError, match="holds no state dict of tensors"):
        network_started_from(f"torchreid:{tmp_path / 'list.pth'}")
    (tmp_path / "cut.pth").write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(InitFromError, match="cannot be read as a torchreid checkpoint"):
        network_started_from(f"torchreid:{tmp_path / 'cut.pth'}")
    zoo_checkpoint(tmp_path / "osnet_x1_0.pth", arch="osnet_x1_0")  # another width than the smoke's x0.25
    with pytest.raises(InitFromError, match="differently shaped"):
        network_started_from(f"torchreid:{tmp_path / 'osnet_x1_0.pth'}")
