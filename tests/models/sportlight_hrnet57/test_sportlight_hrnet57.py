"""The headline model: config, network, samples, loss, decoding, metrics, estimate, overfitting, and
predict() of the overfitted model against the true cameras."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from camera_checks import overlay_offsets, pitch_errors
from torch.utils.data import default_collate

from colab_utils.calibration import source as calibration_source
from colab_utils.calibration.frames import augmentations, to_frame_pixels
from colab_utils.calibration.heatmaps import MaskedHeatmapLoss, decode, gaussian_targets
from colab_utils.config import load_config
from colab_utils.engine.estimate import estimate
from colab_utils.geometry.camera import Camera
from colab_utils.geometry.keypoints import FLIP_57
from colab_utils.inference.api import predict
from colab_utils.models.sportlight_hrnet57.network import HRNetHeatmap
from colab_utils.pipeline import evaluate, load_trained_model, prepare_data, train
from colab_utils.portable import export
from colab_utils.registry import get_task
from colab_utils.runtime import GPU

MODEL = "sportlight_hrnet57"
SMALL_DATA = ["data.source=synthetic", "data.synthetic_frames.train=8", "data.synthetic_frames.valid=4"]


@pytest.fixture
def prepared(folders):
    """``prepared(*overrides, profile=...)``: a config whose synthetic frames are generated and verified."""

    def make(*overrides: str, profile: str = "t4"):
        cfg = load_config(MODEL, profile, [*SMALL_DATA, *overrides], verbose=False)
        prepare_data(cfg)
        return cfg

    return make


def test_t4_profile_reports_what_it_patched(folders, capsys):
    load_config(MODEL, "t4")
    out = capsys.readouterr().out
    for line in (
        "train.batch_size  8 -> 4  (profile t4)",
        "train.accumulate  1 -> 2  (profile t4)",
        "data.input_size  960x540 -> 720x405  (profile t4)",
        "derived.padded_size  960x544 -> 736x416  (derived)",
        "derived.heatmap_size  480x270 -> 360x203  (derived)",
        "train.amp  bf16 -> fp16  (profile t4)",
    ):
        assert line in out
    assert load_config(MODEL, "t4", verbose=False).derived.effective_batch_size == 8  # the recipe's batch


def test_the_network_fits_a_padded_720x405_frame_and_has_the_published_size():
    with torch.device("meta"):
        full = HRNetHeatmap("hrnet_w48")
    assert 65e6 < sum(p.numel() for p in full.parameters()) < 66e6  # HRNet-W48 + the 1x1 head
    small = HRNetHeatmap("hrnet_w18_small").eval()
    with torch.no_grad():
        log_probs = small(torch.zeros(1, 3, 416, 736, dtype=torch.uint8))
    assert log_probs.shape == (1, 58, 208, 368)
    assert torch.allclose(log_probs.exp().sum(dim=1), torch.ones(1, 208, 368), atol=1e-5)


def test_decoding_recovers_subpixel_positions_and_respects_the_padding():
    keypoints = torch.tensor([[[100.3, 50.7], [10.0, 20.25], [700.0, 300.0]]])
    maps = gaussian_targets(keypoints, torch.tensor([[True, True, True]]), (208, 368), stride=2, sigma=3.0)
    log_probs = torch.log(maps.clamp_min(1e-6) / maps.sum(dim=1, keepdim=True))
    xy, confidence = decode(log_probs, stride=2, valid_size=(203, 360), radius=8)
    assert torch.allclose(xy[0, 0], keypoints[0, 0], atol=0.02)
    assert torch.allclose(xy[0, 1], keypoints[0, 1], atol=0.2)  # 10 px from the edge: a narrower window
    assert confidence[0, :2].min() > 0.99
    assert xy[0, 2, 0] <= 2 * 360  # a peak in the padding is never reported beyond the image


def test_the_loss_leaves_untrainable_channels_out():
    torch.manual_seed(0)
    log_probs = torch.randn(2, 4, 16, 16).log_softmax(dim=1)
    target = {
        "keypoints": torch.rand(2, 3, 2) * 30,
        "visible": torch.ones(2, 3, dtype=torch.bool),
        "trainable": torch.tensor([[True, True, False], [True, False, False]]),
    }
    loss = MaskedHeatmapLoss(stride=2, sigma=2.0)
    changed = log_probs.clone()
    changed[0, 2] = 5.0  # an untrainable channel: any prediction there is fine
    changed[1, 1:3] = -5.0
    assert torch.isclose(loss(log_probs, target), loss(changed, target))
    changed[0, 0] += 1.0  # a trainable channel counts
    assert not torch.isclose(loss(log_probs, target), loss(changed, target))


def test_a_sample_is_the_padded_frame_with_keypoints_on_the_markings(prepared):
    cfg = prepared()
    _, val = get_task(MODEL).datasets(cfg)
    image, target = val[(-1, 0)]
    assert image.dtype == torch.uint8 and image.shape == (3, 416, 736)
    assert image[:, 405:, :].eq(0).all() and image[:, :, 720:].eq(0).all()  # bottom/right padding
    assert target["scale"].tolist() == pytest.approx([960 / 720, 540 / 405])
    visible = target["visible"].numpy()
    assert visible.sum() >= 4
    gray = image.float().mean(dim=0).numpy()
    x, y = np.round(target["keypoints"].numpy()[visible]).astype(int).T
    on_markings = gray[y.clip(0, 404), x.clip(0, 719)]
    assert np.median(on_markings) > np.median(gray[:405, :720]) + 40  # white lines, not grass


def test_a_flipped_sample_renames_its_keypoints(prepared):
    cfg = prepared("data.val_split=train")
    train_set, plain = get_task(MODEL).datasets(cfg)
    reference = plain[(-1, 0)][1]
    for epoch in range(20):
        sample = train_set[(epoch, 0)][1]
        if not torch.allclose(sample["keypoints"], reference["keypoints"]):
            break
    else:
        pytest.fail("no flipped sample in 20 epochs")
    visible = reference["visible"].numpy()
    flip = torch.as_tensor(FLIP_57)
    assert torch.equal(sample["visible"], reference["visible"][flip])
    mirrored = reference["keypoints"][flip].clone()
    mirrored[:, 0] = 720 - 1 - mirrored[:, 0]
    shown = visible[FLIP_57]
    assert torch.allclose(sample["keypoints"][shown], mirrored[shown], atol=1e-3)


def test_metrics_of_perfect_predictions(prepared):
    cfg = prepared()
    task = get_task(MODEL)
    _, val = task.datasets(cfg)
    pck, score = task.metrics(cfg)
    for metric in (pck, score):
        metric.reset()
    for index in range(len(val)):
        _, target = val[(-1, index)]
        batch_target = {k: v[None] for k, v in target.items()}
        sure = batch_target["visible"].float()  # a perfect network is unsure where nothing is visible
        step = {"prediction": {"xy": batch_target["keypoints"], "confidence": sure}, "target": batch_target}
        pck.update(step)
        score.update(step)
    assert pck.compute() == {5.0: 1.0, 10.0: 1.0}
    result = score.compute()
    assert result["completeness"] == 1.0 and result["acc@5"] >= 0.9 and result["score"] >= 0.9


def test_the_time_estimate_counts_the_real_network(prepared):
    cfg = prepared()
    task = get_task(MODEL)
    train_set, _ = task.datasets(cfg)
    batch = torch.utils.data.default_collate([train_set[(0, i)] for i in range(2)])
    found = estimate(task, cfg, batch, 2, 16_463, 3_212, GPU("Tesla T4", 15.0, (7, 5)))
    assert 550e9 < found.flops_per_sample < 700e9  # HRNet-W48 at 736x416, forward + backward
    assert 10 < found.seconds_per_epoch / 60 < 40 and found.sessions >= 4
    assert "Colab session" in found.text(GPU("Tesla T4", 15.0, (7, 5)))


def test_evaluate_reports_metrics_and_draws_a_picture(prepared):
    cfg = prepared("data.num_workers=0", "logging.progress=false", "train.max_steps=2", profile="smoke")
    train(cfg)
    report = evaluate(cfg)
    assert {"val_loss", "val_pck@5", "val_acc@5", "val_completeness", "val_score"} <= report.metrics.keys()
    assert report.figure is not None and report.figure.axes


def _as_users_files(pairs: list, folder: Path) -> None:
    """The frames as a user would give them: JPEG copies, lossless PNG re-encodings, and the first
    four again at 640x360."""
    folder.mkdir()
    for index, (path, _) in enumerate(pairs):
        image = cv2.imread(str(path))
        if index % 2:
            cv2.imwrite(str(folder / f"{path.stem}.png"), image)
        else:
            shutil.copy(path, folder)
        if index < 4:
            small = cv2.resize(image, (640, 360), interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(folder / f"{path.stem}_small.png"), small)


@pytest.mark.slow
def test_the_smoke_model_overfits_eight_frames_and_predicts_them_from_its_export(prepared, tmp_path):
    cfg = prepared(
        "data.val_split=train",
        "data.augment=false",
        "data.num_workers=0",
        "logging.progress=false",
        "train.batch_size=4",
        "train.epochs=200",
        "train.val_every_epochs=200",
        "train.optimizer.lr=2e-3",
        "train.scheduler.name=cosine",
        "train.scheduler.min_lr=1e-5",
        "train.early_stopping_patience=null",
        "train.monitor=val_pck@5",
        "checkpoint.every_steps=null",
        profile="smoke",
    )
    assert len(get_task(MODEL).datasets(cfg)[0]) == 8
    result = train(cfg)
    assert result.status == "finished"
    assert result.best_metric >= 0.9  # PCK at 5 px of the 960x540 frame, on the 8 training frames

    # The same frames as the user's own files, through predict() from the exported .pth alone.
    pairs = calibration_source.verified_split(cfg, "train").pairs
    _as_users_files(pairs, tmp_path / "frames")
    prediction = predict(export(cfg, download=False), tmp_path / "frames")
    prediction.save(tmp_path / "out")

    # Its keypoints are the training pipeline's: the same resize, network and decoding.
    model, _ = load_trained_model(cfg, torch.device("cpu"))
    images, target = default_collate([get_task(MODEL).datasets(cfg)[1][(-1, i)] for i in range(8)])
    reference = model.predict(images)
    full_size = [r for r in prediction if "small" not in r.name]
    sure = reference["confidence"].numpy() >= 0.5
    xy = to_frame_pixels(reference["xy"], target["scale"][:, None, :]).numpy()
    assert np.abs(np.stack([r.xy for r in full_size]) - xy)[sure].max() < 0.01

    # Each saved camera and overlay against the generator's true camera (scaled for the 640x360 copies).
    zips = calibration_source.source_root(cfg) / "zips" / "calibration-2023"
    truth = json.loads((zips / "train_cameras.json").read_text())
    errors, offsets, missing = {"960x540": [], "640x360": []}, [], []
    for frame in prediction:
        saved = tmp_path / "out" / f"camera_{frame.name}.json"
        if not saved.exists():
            missing.append(frame.name)
            continue
        height, width = frame.image.shape[:2]
        s = width / 960
        true = Camera.from_json(truth[frame.name[:5]])
        true = Camera(
            true.pan, true.tilt, true.roll, true.position, s * true.fx, s * true.fy, width / 2, height / 2
        )
        camera = Camera.from_json(json.loads(saved.read_text()))
        errors[f"{width}x{height}"].append(pitch_errors(camera, true, width, height) / s)  # in 960x540 pixels
        overlay = cv2.cvtColor(cv2.imread(str(tmp_path / "out" / f"{frame.name}.png")), cv2.COLOR_BGR2RGB)
        offsets.append(overlay_offsets(overlay, frame.image, true) / s)
    for size, found in errors.items():
        points = np.concatenate(found)
        print(
            f"\n{size}: {len(found)} frames with a camera; pitch error median {np.median(points):.2f} px, "
            f"p95 {np.percentile(points, 95):.2f} px, max {points.max():.2f} px (960x540 pixels)"
        )
    drawn = np.concatenate(offsets)
    print(
        f"overlay: drawn pixels from the true lines median {np.median(drawn):.2f} px, "
        f"p95 {np.percentile(drawn, 95):.2f} px"
    )
    # The model puts >= 90 % of the keypoints within 5 px (the PCK above); a camera fitted to them
    # by least squares averages their errors, so where the keypoints are, the pitch it shows is
    # within those 5 px, and its error grows away from them (up to ~3x at the far side of a frame):
    # median <= 5 px, 95 % of the pitch within 15 px. The overlay draws that pitch 2 px wide.
    assert not missing, f"no camera for {missing}"
    points = np.concatenate([e for found in errors.values() for e in found])
    assert np.median(points) <= 5.0 and np.percentile(points, 95) <= 15.0
    assert np.median(drawn) <= 5.0


def test_keypoints_follow_the_pixels_through_the_resize():
    """OpenCV aligns pixel centres when resizing; the targets must move exactly like the image."""
    frame = np.zeros((540, 960, 3), np.uint8)
    frame[299:302, 499:502] = 255  # a bright 3x3 spot centred on (500, 300)
    pipeline = augmentations((320, 180), (320, 192), train=False)
    scale = np.array([3.0, 3.0])
    out = pipeline(image=frame, keypoints=np.array([[500.0, 300.0]]) + 0.5 - 0.5 * scale)
    weights = out["image"][..., 0].astype(float)
    ys, xs = np.mgrid[: weights.shape[0], : weights.shape[1]]
    centroid = np.array([(xs * weights).sum(), (ys * weights).sum()]) / weights.sum()
    assert np.allclose(out["keypoints"][0, :2], centroid, atol=0.05)
    back = to_frame_pixels(torch.tensor(out["keypoints"][0, :2]), torch.tensor(scale))
    assert torch.allclose(back, torch.tensor([500.0, 300.0], dtype=back.dtype), atol=1e-4)
