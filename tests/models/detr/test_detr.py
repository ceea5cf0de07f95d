"""detr: the MOT and Game State readers against the generator, the download path through a local
Hub with damaged files, frame sampling, the network's variants and from-scratch backbone, the
mAP metric, the time and memory estimates, the pipeline, and overfitting four frames."""

from __future__ import annotations

import io
import json
import math
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hub_server import HubServer, run_python
from torch.utils.flop_counter import FlopCounterMode
from torchvision.ops import box_iou

from colab_utils.config import load_config
from colab_utils.engine.estimate import training_flops, training_memory
from colab_utils.models.detr.frames import CLASSES, DetectionFrames, collate, read_frame
from colab_utils.models.detr.gamestate import read_gamestate_clip
from colab_utils.models.detr.metrics import DetectionMAP, cxcywh_to_frame_xyxy
from colab_utils.models.detr.mot import parse_tracklet, read_mot_clip
from colab_utils.models.detr.network import DetrDetector
from colab_utils.models.detr.source import load_verified_split, read_clips
from colab_utils.models.detr.synthetic.dataset import GAMESTATE, TRACKING, generate_detection_dataset
from colab_utils.pipeline import evaluate, prepare_data, train
from colab_utils.portable import export, load_portable
from colab_utils.registry import get_task
from colab_utils.soccernet.archives import extract_zip

MODEL = "detr"
STEPS_TO_OVERFIT = 600
HUB_REPO = "SoccerNet/SN-Tracking-2023"
SIZE = (320, 180)

PREPARE = """
import json, sys
from pathlib import Path
from colab_utils.models.detr.source import prepare_detection
try:
    reports = prepare_detection(Path(sys.argv[1]), "tracking-2023", ["train", "test"])
    print("RESULT " + json.dumps({split: report.summary for split, report in reports.items()}))
except Exception as err:
    print("ERROR " + json.dumps([type(err).__name__, str(err)]))
"""


def boxes_by_frame(clip) -> dict[int, dict[int, tuple[int, ...]]]:
    return {
        frame: {
            int(t): tuple(int(v) for v in box) for t, box in zip(found.track_ids, found.boxes, strict=True)
        }
        for frame, found in clip.frames.items()
    }


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Two training clips of 5 frames written in both formats, and their extracted folders."""
    root = tmp_path_factory.mktemp("generated")
    result = generate_detection_dataset(root / "zips", {"train": 2}, frames=5, width=SIZE[0], height=SIZE[1])
    for dataset in (TRACKING, GAMESTATE):
        extract_zip(result.zips[dataset]["train"], root / dataset)
    return result, root


# ----------------------------------------------------------------- formats


def test_mot_files_and_gamestate_json_give_back_what_the_generator_wrote(generated):
    result, root = generated
    for clip in result.clips["train"]:
        mot = read_mot_clip(root / TRACKING / "train" / clip.tracking_name)
        state = read_gamestate_clip(root / GAMESTATE / "train" / clip.gamestate_name)
        assert boxes_by_frame(mot) == clip.boxes == boxes_by_frame(state)
        assert sum(len(found) for found in clip.boxes.values()) > 20
        for entity in clip.entities:
            described = mot.tracklets[entity.track_id]
            assert (described.role, described.team, described.jersey) == (
                entity.role,
                entity.team,
                entity.jersey,
            )
            if entity.track_id in state.tracklets:  # the JSON describes the people it shows
                labelled = state.tracklets[entity.track_id]
                assert (labelled.role, labelled.team, labelled.jersey) == (
                    entity.role,
                    entity.team,
                    entity.jersey,
                )
        shown = {t for found in clip.boxes.values() for t in found}
        assert set(state.tracklets) == shown
        assert {e.role for e in clip.entities if e.track_id in shown} >= {"player", "ball"}
        assert mot.info.seq_length == 5 and (mot.info.width, mot.info.height) == SIZE
        assert not mot.problems.bad_lines and not state.problems.bad_lines
        first = mot.image_path(1).read_bytes()
        assert first == state.image_path(1).read_bytes()  # one scene, written twice


def test_archives_are_laid_out_like_soccernets_and_repeat_byte_for_byte(generated, tmp_path):
    result, _ = generated
    tracking = zipfile.ZipFile(result.zips[TRACKING]["train"]).namelist()
    assert "train/SNMOT-001/gt/gt.txt" in tracking and "train/SNMOT-002/img1/000005.jpg" in tracking
    assert {"train/SNMOT-001/seqinfo.ini", "train/SNMOT-001/gameinfo.ini"} <= set(tracking)
    gamestate = zipfile.ZipFile(result.zips[GAMESTATE]["train"]).namelist()
    assert "SNGS-001/Labels-GameState.json" in gamestate and "SNGS-002/img1/000001.jpg" in gamestate
    again = generate_detection_dataset(tmp_path, {"train": 2}, frames=5, width=SIZE[0], height=SIZE[1])
    for dataset in (TRACKING, GAMESTATE):
        assert again.zips[dataset]["train"].read_bytes() == result.zips[dataset]["train"].read_bytes()
    other = generate_detection_dataset(
        tmp_path / "other", {"train": 1}, frames=2, seed=1, datasets=[TRACKING]
    )
    assert other.clips["train"][0].boxes != result.clips["train"][0].boxes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" player team left;10", ("player", "left", "10", None)),
        (" goalkeepers team right;X", ("goalkeeper", "right", "X", None)),
        (" referee;main", ("referee", None, None, "main")),
        (" referee;side top", ("referee", None, None, "side top")),
        (" ball;1", ("ball", None, None, "1")),
        (" other;2", ("other", None, None, "2")),
    ],
)
def test_gameinfo_tracklets_are_read_as_soccernet_writes_them(text, expected):
    tracklet = parse_tracklet(7, text)
    assert (tracklet.role, tracklet.team, tracklet.jersey, tracklet.detail) == expected


@pytest.mark.parametrize("text", [" coach;1", " player;10", " player team middle;4", ""])
def test_gameinfo_tracklets_that_say_nothing_usable_are_refused(text):
    with pytest.raises(ValueError):
        parse_tracklet(7, text)


# ----------------------------------------------------------------- download and verification


def _damaged_repo(tmp_path: Path) -> tuple[dict[str, bytes], dict]:
    """tracking-2023 train (2 clips) + test (1 clip), with damage only a reader can notice."""
    result = generate_detection_dataset(
        tmp_path / "source",
        {"train": 2, "test": 1},
        frames=6,
        width=SIZE[0],
        height=SIZE[1],
        datasets=[TRACKING],
    )
    source = result.zips[TRACKING]["train"]
    damaged = io.BytesIO()
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(damaged, "w") as archive:
        for info in original.infolist():
            data = original.read(info)
            if info.filename == "train/SNMOT-001/gt/gt.txt":
                data += b"3,1,10,oops,5,5,1,-1,-1,-1\n4,99,10,10,5,5,1,-1,-1,-1\n2,1,10,10,0,5,1,-1,-1,-1\n"
            if info.filename == "train/SNMOT-002/img1/000003.jpg":
                continue  # an image missing from the archive
            if info.filename == "train/SNMOT-002/img1/000004.jpg":
                data = data[: len(data) // 2]  # cut short: it does not decode to the end
            archive.writestr(info, data)
    files = {"train.zip": damaged.getvalue(), "test.zip": result.zips[TRACKING]["test"].read_bytes()}
    return files, {clip.tracking_name: clip for clip in result.clips["train"]}


def test_download_through_the_hub_verifies_and_counts_what_it_skips(tmp_path):
    files, truth = _damaged_repo(tmp_path)
    data = tmp_path / "data"
    with HubServer({HUB_REPO: files}) as hub:
        done = run_python(PREPARE, hub.endpoint, tmp_path / "hf_home", str(data), timeout=120)
        assert done.returncode == 0, done.stderr
        assert sorted(hub.kinds()) == ["get", "get", "head", "head", "revision", "tree"]
        result = [json.loads(line[7:]) for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        assert result, done.stdout + done.stderr
        summary = result[0]["train"]
        assert summary.startswith("train: 2 clips, 10 frames")
        assert (
            "3 bad annotation(s) skipped: 1 empty box, 1 not a number, 1 track id not in gameinfo.ini"
            in summary
        )
        assert "2 frame(s) without a readable image skipped" in summary
        assert result[0]["test"].startswith("test: 1 clips, 6 frames")

        hub.clear()
        again = run_python(PREPARE, hub.endpoint, tmp_path / "hf_home", str(data), timeout=120)
        assert hub.kinds() == ["revision"]
        assert "verified on an earlier run" in again.stdout and "0 files extracted" in again.stdout

    clips = {c.name: c for c in read_clips(load_verified_split(data / TRACKING / "train"))}
    assert sorted(clips["SNMOT-002"].frames) == [1, 2, 5, 6]
    assert boxes_by_frame(clips["SNMOT-001"]) == truth["SNMOT-001"].boxes  # the bad lines left nothing behind
    assert (data / "zips" / TRACKING / "train.zip").read_bytes() == files["train.zip"]


# ----------------------------------------------------------------- samples


@pytest.fixture(scope="module")
def clips(generated):
    result, root = generated
    return [read_mot_clip(root / TRACKING / "train" / c.tracking_name) for c in result.clips["train"]]


def test_an_epoch_reads_one_frame_per_stretch_drawn_afresh_each_epoch_and_fixed_for_validation(clips):
    frames = DetectionFrames(clips, 2, SIZE, train=True, augment=True)
    assert len(frames) == 4
    picked = {epoch: [int(frames[(epoch, i)][1]["frame"]) for i in range(4)] for epoch in range(8)}
    assert picked[3] == [int(frames[(3, i)][1]["frame"]) for i in range(4)]  # a function of (epoch, index)
    for chosen in picked.values():  # 5 frames in 2 stretches: frames 1-2, then 3-5
        assert (
            chosen[0] in (1, 2) and chosen[1] in (3, 4, 5) and chosen[2] in (1, 2) and chosen[3] in (3, 4, 5)
        )
    assert len({tuple(chosen) for chosen in picked.values()}) > 1
    image_a, _ = frames[(0, 1)]
    image_b, _ = frames[(0, 1)]
    assert torch.equal(image_a, image_b)
    validation = DetectionFrames(clips, 2, SIZE, train=False, augment=True)
    assert [int(validation[i][1]["frame"]) for i in range(4)] == [1, 4, 1, 4]


def test_targets_are_the_clip_boxes_in_detr_format(clips, generated):
    result, _ = generated
    frames = DetectionFrames(clips, 5, SIZE, train=False, augment=False)
    image, target = frames[2]
    assert image.dtype == torch.uint8 and image.shape == (3, SIZE[1], SIZE[0])
    truth = result.clips["train"][0].boxes[int(target["frame"])]
    left_top = torch.tensor([b[:2] for b in truth.values()], dtype=torch.float32)
    size = torch.tensor([b[2:] for b in truth.values()], dtype=torch.float32)
    scale = torch.tensor(SIZE, dtype=torch.float32)
    expected = torch.cat([(left_top + size / 2) / scale, size / scale], dim=1)
    assert torch.allclose(target["boxes"], expected, atol=1e-4)
    roles = {e.track_id: e.role for e in result.clips["train"][0].entities}
    assert target["class_labels"].tolist() == [CLASSES.index(roles[t]) for t in truth]
    images, batch = collate([frames[0], frames[1]])
    assert images.shape[0] == 2 and len(batch["labels"]) == 2 and batch["frame_size"].shape == (2, 2)


def test_large_frames_are_decoded_at_a_fraction_of_their_size(clips, tmp_path):
    big = np.random.default_rng(0).integers(0, 255, (1080, 1920, 3), dtype=np.uint8)
    path = tmp_path / "frame.jpg"
    import cv2

    cv2.imwrite(str(path), big)
    half, scale = read_frame(str(path), (1920, 1080), (960, 540))
    assert half.shape == (540, 960, 3) and scale.tolist() == [0.5, 0.5, 0.5, 0.5]
    quarter, _ = read_frame(str(path), (1920, 1080), (400, 225))
    assert quarter.shape == (270, 480, 3)
    full, _ = read_frame(str(path), (1920, 1080), (1333, 750))
    assert full.shape == (1080, 1920, 3)


# ----------------------------------------------------------------- network


def _tiny(variant: str, pretrained: bool = False) -> DetrDetector:
    norm = "frozen" if pretrained else "group"
    return DetrDetector(
        variant, "test_resnet", pretrained, CLASSES, 8, 32, [1, 2], 64, 2, 0.0, True, backbone_norm=norm
    )


@pytest.mark.parametrize("variant", ["detr", "conditional_detr", "deformable_detr"])
def test_every_variant_trains_on_a_cpu_with_the_librarys_matched_loss(variant):
    torch.manual_seed(0)
    net = _tiny(variant)
    images = torch.randint(0, 256, (2, 3, 96, 160), dtype=torch.uint8)
    labels = [
        {
            "class_labels": torch.tensor([0, 3]),
            "boxes": torch.tensor([[0.5, 0.5, 0.1, 0.3], [0.2, 0.7, 0.03, 0.05]]),
        }
    ]
    labels.append({"class_labels": torch.tensor([2]), "boxes": torch.tensor([[0.3, 0.4, 0.1, 0.3]])})
    out = net(images, labels)
    assert {"loss_ce", "loss_bbox", "loss_giou", "loss_ce_0"} <= set(out.loss_dict)
    out.loss.backward()
    assert out.logits.shape[:2] == (2, 8) and out.pred_boxes.shape == (2, 8, 4)
    first_conv = next(m for m in net.backbone_module().modules() if isinstance(m, torch.nn.Conv2d))
    assert first_conv.weight.grad.abs().sum() > 0  # the loss reaches back to the image


def test_a_backbone_trained_from_scratch_gets_norms_that_learn():
    torch.manual_seed(0)
    net = _tiny("detr")
    backbone = net.backbone_module()
    assert not [m for m in backbone.modules() if type(m).__name__.endswith("FrozenBatchNorm2d")]
    out = net(torch.randint(0, 256, (2, 3, 96, 160), dtype=torch.uint8))
    (out.logits.square().mean() + out.pred_boxes.mean()).backward()
    convs = [m for m in backbone.modules() if isinstance(m, torch.nn.Conv2d)]
    dead = [m for m in convs if m.weight.grad is None or not m.weight.grad.abs().sum() > 0]
    assert (
        len(convs) > 10 and not dead
    )  # the library's frozen, zero-initialised norms leave residual blocks off
    groups = net.parameter_groups(1e-4)
    assert groups[1]["lr"] == pytest.approx(1e-5) and len(groups[1]["params"]) == len(
        list(backbone.parameters())
    )


def test_dc5_dilation_shows_the_transformer_the_frame_at_a_sixteenth():
    pixels = torch.zeros(1, 3, 128, 256)
    lengths = []
    for dilation in (False, True):
        net = DetrDetector(
            "detr", "test_resnet", False, CLASSES, 8, 32, [1, 2], 64, 2, 0.0, True, dilation=dilation
        )
        lengths.append(net.detector(pixel_values=pixels).encoder_last_hidden_state.shape[1])
    assert lengths == [4 * 8, 8 * 16]
    with pytest.raises(ValueError, match="deformable_detr already sees 1/8"):
        DetrDetector(
            "deformable_detr", "test_resnet", False, CLASSES, 8, 32, [1, 2], 64, 2, 0.0, True, dilation=True
        )


def test_map_is_one_for_perfect_detections_and_drops_with_a_miss():
    truth = torch.tensor([[0.5, 0.5, 0.1, 0.3], [0.2, 0.7, 0.04, 0.05], [0.8, 0.4, 0.1, 0.3]])
    frame_size = torch.tensor([[1920.0, 1080.0]])
    centre, size = truth[:, :2], truth[:, 2:]
    xyxy = torch.cat([centre - size / 2, centre + size / 2], dim=1)

    def score(keep: list[int]) -> dict[str, float]:
        metric = DetectionMAP(CLASSES)
        found = {
            "boxes": xyxy[keep],
            "scores": torch.full((len(keep),), 0.9),
            "labels": torch.tensor([0, 3, 2])[keep],
        }
        labels = [{"boxes": truth, "class_labels": torch.tensor([0, 3, 2])}]
        metric.update({"prediction": [found], "target": {"labels": labels, "frame_size": frame_size}})
        return metric.compute()

    perfect = score([0, 1, 2])
    assert perfect["map"] == pytest.approx(1.0) and perfect["map_50"] == pytest.approx(1.0)
    assert perfect["ap_ball"] == pytest.approx(1.0) and perfect["ap50_ball"] == pytest.approx(1.0)
    assert math.isnan(perfect["ap_goalkeeper"]) and math.isnan(perfect["ap50_goalkeeper"])
    missed = score([0, 2])
    assert missed["ap_ball"] == pytest.approx(0.0) and missed["ap50_ball"] == pytest.approx(0.0)
    assert missed["map"] == pytest.approx(2 / 3, abs=1e-3) and missed["ap50_player"] == pytest.approx(1.0)


# ----------------------------------------------------------------- config, estimates, pipeline


def test_t4_profile_keeps_detrs_batch_of_64_with_accumulation(folders, capsys):
    load_config(MODEL, "t4")
    out = capsys.readouterr().out
    for line in (
        "data.input_size  1333x750 -> 960x540  (profile t4)",
        "train.amp  bf16 -> fp16  (profile t4)",
    ):
        assert line in out
    cfg = load_config(MODEL, "t4", verbose=False)
    # 16 frames per step ran out of a T4's 15 GiB on a GPU (README, Measured): 8 x 8 keeps the 64
    assert (cfg.train.batch_size, cfg.train.accumulate) == (8, 8)
    assert cfg.derived.effective_batch_size == 64 and cfg.model.variant == "detr"


def test_time_and_memory_estimates_run_without_numbers(folders):
    cfg = load_config(MODEL, "smoke", ["model.variant=detr"], verbose=False)
    task = get_task(MODEL)

    def batch(size: int):
        labels = [{"class_labels": torch.tensor([0]), "boxes": torch.tensor([[0.5, 0.5, 0.1, 0.2]])}] * size
        return torch.zeros(size, 3, 216, 384, dtype=torch.uint8), {"labels": labels}

    model = task.build_model(cfg, torch.device("cpu"))
    with FlopCounterMode(display=False) as real:  # a real step: matching, loss, auxiliary losses
        loss, _, _ = model.forward_loss(batch(2))
        loss.backward()
    assert training_flops(task, cfg, batch(2)) == pytest.approx(real.get_total_flops(), rel=0.02)

    one = training_memory(task, cfg, batch(1), dtype=torch.float32)
    parameters = sum(p.numel() for p in model.nn_module.parameters())
    assert one["Parameter"] == 4 * parameters
    assert one["Optstate"] == pytest.approx(2 * one["Parameter"], rel=0.01)  # AdamW: two moments
    two = training_memory(task, cfg, batch(2))  # twice the frames, in fp16 (measured: 1.35 x)
    assert one["Activation"] < two["Activation"] < 1.6 * one["Activation"]


def test_prepare_train_evaluate_export(folders, capsys):
    exported = folders["tmp"] / "exported"
    overrides = [
        "data.num_workers=0",
        "logging.progress=false",
        "train.max_steps=2",
        f"export.dir={exported}",
    ]
    cfg = load_config(MODEL, "smoke", overrides, verbose=False)
    summary = prepare_data(cfg)
    assert "train: 3 clips, 24 frames" in summary and "test:" not in summary  # test waits for the end
    assert (
        "Best weights chosen on 1 clip(s) held out of train (one in 3, by name: SNMOT-001), never trained "
        "on; test is kept for evaluate(cfg, split='test'), once, at the end." in summary
    )
    assert (folders["data"] / "synthetic").is_dir() and list((folders["data"]).rglob("gt.txt"))
    train(cfg)
    report = evaluate(cfg)
    keys = {"val_map", "val_map_50", "val_map_75", "val_loss"} | {f"val_ap_{name}" for name in CLASSES}
    assert keys <= report.metrics.keys()
    assert report.figure is not None and report.figure.axes[0].images
    capsys.readouterr()
    tested = evaluate(cfg, split="test")
    out = capsys.readouterr().out
    assert "test: 1 clips, 8 frames" in out
    assert (
        "detr on the test split (4 samples), weights from best.pth, chosen on 'heldout': test was not "
        "used to choose them." in out
    )
    assert {key.replace("val_", "test_") for key in keys} <= tested.metrics.keys()
    payload = load_portable(export(cfg))
    assert payload["meta"]["classes"] == list(CLASSES) and payload["meta"]["input_size"] == [384, 216]
    assert payload["meta"]["normalisation"]["mean"] == pytest.approx([123.675, 116.28, 103.53])
    fresh = get_task(MODEL).build_model(cfg, torch.device("cpu")).nn_module
    fresh.load_state_dict(payload["state_dict"])  # the weights fit the network they describe, key for key


@pytest.mark.slow
def test_the_smoke_model_overfits_four_frames(folders):
    """Four close-up frames (2-3 players a side, goalkeepers, referees, the ball) learnt by heart by the
    smoke network: COCO AP50 >= 0.9 for every class of people, and the ball found where it is."""
    overrides = [
        "data.synthetic.clips.train=1",
        "data.val_split=train",  # one clip, nothing held out: the test overfits it
        "data.synthetic.frames=4",
        "data.synthetic.frame_size=[256,144]",
        "data.synthetic.cameras.close_up=1.0",
        "data.synthetic.cameras.main_high=0",
        "data.synthetic.cameras.main_low=0",
        "data.synthetic.players_per_team=[2,3]",
        "data.input_size=[256,144]",
        "data.augment=false",
        "train.optimizer.lr=1.0e-3",
    ]
    cfg = load_config(MODEL, "smoke", overrides, verbose=False)
    prepare_data(cfg)
    task = get_task(MODEL)
    torch.manual_seed(0)
    model = task.build_model(cfg, torch.device("cpu"))
    model.configure_training(model.precision, 1, float(cfg.train.clip_grad_norm))
    frames = task.frames(cfg, "train", train=False)
    frames.seed = int(cfg.seed)
    batch = collate([frames[i] for i in range(4)])  # the clip's four frames
    assert batch[1]["frame"].tolist() == [1, 2, 3, 4]
    started = time.perf_counter()
    for _ in range(STEPS_TO_OVERFIT):
        model.train_step(batch)
    seconds = time.perf_counter() - started
    output = model.val_step(batch)
    metric = DetectionMAP(CLASSES)
    metric.update(output)
    metrics = metric.compute()
    print(
        ", ".join(f"{k} {v:.2f}" for k, v in metrics.items())
        + f" ({STEPS_TO_OVERFIT} steps, {seconds:.0f} s)"
    )
    for name in ("player", "goalkeeper", "referee"):
        assert metrics[f"ap50_{name}"] >= 0.9, name
    # The ball (4x3 pixels here) is found with its class where it is, but this many steps do not make
    # so small a box precise enough for IoU 0.5 (about 1 pixel of error allowed).
    for found, labels, size in zip(
        output["prediction"], batch[1]["labels"], batch[1]["frame_size"], strict=True
    ):
        true_ball = cxcywh_to_frame_xyxy(labels["boxes"], size)[labels["class_labels"] == 3]
        balls = found["labels"] == 3
        best = found["scores"].masked_fill(~balls, -1).argmax()
        assert (
            balls.any() and box_iou(found["boxes"][best : best + 1] * size.repeat(2), true_ball).item() > 0.05
        )
