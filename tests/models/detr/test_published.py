"""detr starts from a COCO-trained DETR on the Hub: transformers' real from_pretrained reads a tiny,
randomly initialised checkpoint in the Hub's layout (config.json + model.safetensors, written by
save_pretrained) from the local Hub-like server."""

from __future__ import annotations

import torch
from hub_server import HubServer, run_python
from transformers import DetrConfig, DetrForObjectDetection

from colab_utils.config import load_config
from colab_utils.models.detr.frames import CLASSES

REPO = "coco-test/detr-tiny"
COCO_LABELS = {index: f"coco class {index}" for index in range(91)} | {1: "person", 37: "sports ball"}
# the smoke profile's network, as plain DETR: the shapes the served checkpoint has
SMOKE_DETR = ("model.variant=detr", "model.backbone_norm=frozen", f"model.init_from={REPO}")

START = """
import sys
import torch
from safetensors.torch import load_file
from colab_utils.config import load_config
from colab_utils.models.detr.frames import CLASSES
from colab_utils.registry import get_task
from colab_utils.starting_weights import InitFromError, apply

task = get_task("detr")
cfg = load_config("detr", "smoke", sys.argv[2:], verbose=False)
model = task.build_model(cfg, torch.device("cpu"))
network = model.get_nn_module()
print(apply(cfg, task, network))
served, own = load_file(sys.argv[1]), network.state_dict()
assert own["detector.class_labels_classifier.weight"].shape == (len(CLASSES) + 1, 64)
body = [name for name in served if not name.startswith("class_labels_classifier.")]
# the Hub's files keep DETR's first names (backbone.conv_encoder.*, out_proj), which transformers 5
# renames on loading: each served tensor must be, value for value, one of the network's
differ = [name for name in body if not any(
    tensor.shape == served[name].shape and torch.equal(tensor, served[name]) for tensor in own.values()
)]
print(f"{len(body)} served backbone and transformer tensors, {len(differ)} differ: {differ[:3]}")

images = torch.randint(0, 256, (2, 3, 216, 384), dtype=torch.uint8)
boxes = [torch.tensor([[0.5, 0.5, 0.1, 0.3], [0.2, 0.7, 0.1, 0.1]]), torch.tensor([[0.3, 0.4, 0.1, 0.3]])]
labels = [{"class_labels": torch.tensor(classes), "boxes": b} for classes, b in zip([[0, 3], [2]], boxes)]
before = {name: tensor.clone() for name, tensor in own.items()}
network.train()
loss = network(images, labels).loss
loss.backward()
model.optimizer.step()
after = network.state_dict()
moved = [name for name in before if not torch.equal(before[name], after[name])]
print(f"one step: loss {loss.item():.3f}, {len(moved)} tensors moved, class head moved "
      f"{'detector.class_labels_classifier.weight' in moved}")

deformable = load_config("detr", "smoke", [sys.argv[-1]], verbose=False)
try:
    apply(deformable, task, task.build_model(deformable, torch.device("cpu")).get_nn_module())
except InitFromError as error:
    print(f"refused: {error}")
"""


def coco_checkpoint(folder) -> dict[str, bytes]:
    """A tiny DETR with COCO's 91 classes, saved by transformers as the Hub holds facebook/detr-resnet-50."""
    torch.manual_seed(0)
    config = DetrConfig(
        backbone="test_resnet",
        num_queries=30,
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_ffn_dim=256,
        decoder_ffn_dim=256,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        id2label=COCO_LABELS,
        label2id={name: index for index, name in COCO_LABELS.items()},
    )
    DetrForObjectDetection(config).save_pretrained(folder)
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}


def test_detr_starts_from_a_coco_checkpoint_with_our_class_head_and_trains(tmp_path, folders):
    files = coco_checkpoint(tmp_path / "served")
    assert {"config.json", "model.safetensors"} <= set(files)
    with HubServer({}, models={REPO: files}) as hub:
        started = run_python(
            START, hub.endpoint, tmp_path / "hf_home", str(tmp_path / "served" / "model.safetensors"),
            *SMOKE_DETR, timeout=300,
        )  # fmt: skip
    assert started.returncode == 0, started.stderr
    out = started.stdout
    assert f"model.init_from={REPO}: loaded" in out and f"from {REPO} (transformers)" in out
    assert "detector.class_labels_classifier.weight [92, 64] -> [5, 64]" in out
    assert "served backbone and transformer tensors, 0 differ" in out
    assert "class head moved True" in out and "loss nan" not in out
    assert "is a detr checkpoint and model.variant is deformable_detr: set model.variant=detr" in out


def test_the_t4_profile_fine_tunes_cocos_detr(folders):
    cfg = load_config("detr", "t4", verbose=False)
    assert cfg.model.init_from == "facebook/detr-resnet-50" and cfg.model.variant == "detr"
    assert cfg.model.backbone_norm == "frozen" and len(CLASSES) == 4
