"""The homography model: config, network, the differentiable fit and its loss, samples, metrics,
estimate, evaluate/export, and overfitting."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from colab_utils.calibration.frames import CalibrationFrames
from colab_utils.calibration.heatmaps import MaskedHeatmapLoss, decode, gaussian_targets
from colab_utils.config import load_config
from colab_utils.engine.estimate import estimate
from colab_utils.geometry.calibrate import camera_from_homography
from colab_utils.geometry.keypoints import FLIP_57, GROUND_29, WORLD_57
from colab_utils.geometry.metric import CalibrationMetric
from colab_utils.geometry.targets import canonical_side, keypoints_from_annotation
from colab_utils.models.homography.fit import HomographyFit, pitch_grid, project, reprojection_errors
from colab_utils.models.homography.loss import HomographyLoss
from colab_utils.models.homography.network import ResNetHeatmap
from colab_utils.pipeline import evaluate, prepare_data, train
from colab_utils.portable import export, load_portable
from colab_utils.registry import get_task
from colab_utils.runtime import GPU
from colab_utils.synthetic.cameras import random_camera

MODEL = "homography"
SMALL_DATA = ["data.source=synthetic", "data.synthetic_frames.train=8", "data.synthetic_frames.valid=4"]
GROUND_WORLD = torch.tensor(WORLD_57[list(GROUND_29), :2], dtype=torch.float32)
T4 = GPU("Tesla T4", 15.0, (7, 5))


@pytest.fixture
def prepared(folders):
    """``prepared(*overrides, profile=...)``: a config whose synthetic frames are generated and verified."""

    def make(*overrides: str, profile: str = "t4"):
        cfg = load_config(MODEL, profile, ["model.init_from=none", *SMALL_DATA, *overrides], verbose=False)
        prepare_data(cfg)
        return cfg

    return make


def true_views(count: int, seed: int = 7) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Synthetic broadcast cameras: the 29 keypoints' true pixels (960x540), 1 where they are in
    the image else 0, and each camera's ground homography (in-front points at w > 0)."""
    rng = np.random.default_rng(seed)
    xy, sure, homographies = [], [], []
    for _ in range(count):
        camera, _ = random_camera(rng)
        uv, depth = camera.project(WORLD_57[list(GROUND_29)])
        inside = (depth > 0) & (uv[:, 0] >= 0) & (uv[:, 0] <= 959) & (uv[:, 1] >= 0) & (uv[:, 1] <= 539)
        xy.append(np.nan_to_num(uv))
        sure.append(inside.astype(float))
        homographies.append(camera.ground_homography() / np.abs(camera.ground_homography()).max())
    return tuple(torch.tensor(np.array(a), dtype=torch.float32) for a in (xy, sure, homographies))


def test_t4_profile_reports_what_it_patched(folders, capsys):
    load_config(MODEL, "t4")
    out = capsys.readouterr().out
    assert "train.amp  bf16 -> fp16  (profile t4)" in out
    cfg = load_config(MODEL, "t4", verbose=False)
    assert cfg.data.input_size == [960, 540] and cfg.derived.padded_size == [960, 544]
    assert cfg.derived.heatmap_size == [480, 270] and cfg.derived.effective_batch_size == 8


def test_the_network_is_a_resnet50_with_log_probability_heatmaps_at_its_stride():
    with torch.device("meta"):
        full = ResNetHeatmap("resnet50")
    assert 23e6 < sum(p.numel() for p in full.parameters()) < 26e6  # ResNet-50 trunk + the light FPN
    for stride in (2, 4):
        small = ResNetHeatmap("resnet18", stride=stride).eval()
        with torch.no_grad():
            log_probs = small(torch.zeros(1, 3, 192, 320, dtype=torch.uint8))
        assert log_probs.shape == (1, 30, 192 // stride, 320 // stride)
        assert torch.allclose(
            log_probs.exp().sum(dim=1), torch.ones(1, 192 // stride, 320 // stride), atol=1e-5
        )


def test_the_dlt_from_true_keypoints_reprojects_the_pitch_within_5_cm():
    xy, sure, true = true_views(48)
    fitted_h, fitted = HomographyFit(GROUND_WORLD, min_confidence=0.5)(xy, sure * 0.9)
    errors, seen = reprojection_errors(fitted_h, true, pitch_grid(1.0), (960, 540))
    usable = seen.any(dim=1) & (sure.sum(dim=1) >= 4)
    assert fitted.sum() >= 30 and (fitted | ~usable).all()  # every view with enough keypoints gets a fit
    worst = errors[seen & fitted[:, None]].max()
    print(
        f"\nDLT from true keypoints, {int(fitted.sum())} views: "
        f"worst pitch point {float(worst) * 1000:.1f} mm"
    )
    assert worst < 0.05


def test_the_fit_refuses_keypoints_that_cannot_make_a_homography():
    xy, _, _ = true_views(1, seed=3)
    fit = HomographyFit(GROUND_WORLD, min_confidence=0.5)
    goal_line = [GROUND_29.index(k) for k in (2, 3, 6, 7, 10, 11)]  # all on x = -52.5
    confidence = torch.zeros(3, 29)
    confidence[0, goal_line] = 0.9  # six points on one line
    confidence[1, goal_line[:2] + [GROUND_29.index(42)]] = 0.9  # three points
    confidence[2, goal_line + [GROUND_29.index(48)]] = 0.9  # the line and one point off it: still degenerate
    _, fitted = fit(xy.expand(3, -1, -1), confidence)
    assert not fitted.any()
    confidence[2, GROUND_29.index(8)] = 0.9  # a second point off the line: four in general position
    _, fitted = fit(xy.expand(3, -1, -1), confidence)
    assert fitted.tolist() == [False, False, True]


def test_the_reprojection_loss_is_zero_for_true_keypoints_and_grows_with_their_error():
    xy, sure, true = true_views(16)
    loss = HomographyLoss(GROUND_29, 2, 3.0, [960, 540], [480, 270], min_confidence=0.5)
    values = []
    generator = torch.Generator().manual_seed(0)
    for noise_px in (0.0, 1.0, 3.0, 10.0):
        noisy = xy + noise_px * torch.randn(xy.shape, generator=generator)
        values.append(float(loss.reprojection(noisy, sure * 0.9, true)))
    print(f"\nreprojection loss (m) at 0/1/3/10 px keypoint noise: {[round(v, 3) for v in values]}")
    assert values[0] < 0.01
    assert values[0] < values[1] < values[2] < values[3]


def test_the_reprojection_gradients_reach_the_network_and_stay_finite(prepared):
    cfg = prepared(profile="smoke")
    train_set, _ = get_task(MODEL).datasets(cfg)
    images, target = torch.utils.data.default_collate([train_set[(0, i)] for i in range(4)])
    network = ResNetHeatmap("resnet18", stride=2)
    # every keypoint enters the fit (an untrained network is unsure of all of them)
    loss = HomographyLoss(
        GROUND_29, 2, 2.0, [320, 180], [160, 90], min_confidence=0.0, reprojection_weight=1.0
    )
    xy, confidence = decode(network(images), 2, (90, 160), 5)
    value = loss.reprojection(xy, confidence, target["homography"])
    value.backward()
    first = network.backbone.conv1.weight.grad
    assert value > 0 and first is not None and torch.isfinite(first).all() and first.abs().sum() > 0


def test_a_sample_carries_its_true_homography_through_resize_and_flip(prepared):
    cfg = prepared("data.val_split=train", profile="smoke")
    train_set, plain = get_task(MODEL).datasets(cfg)
    assert isinstance(plain, CalibrationFrames) and len(plain.keypoints) == 29
    flipped = None
    for epoch in range(20):
        sample = train_set[(epoch, 0)][1]
        if not torch.allclose(sample["keypoints"], plain[(-1, 0)][1]["keypoints"]):
            flipped = sample
            break
    assert flipped is not None, "no flipped sample in 20 epochs"
    for target in (plain[(-1, 0)][1], flipped):
        projected, w = (t[0] for t in project(target["homography"][None], GROUND_WORLD))
        visible = target["visible"]
        assert visible.sum() >= 4 and (w[visible] > 0).all()
        error = (projected[visible] - target["keypoints"][visible]).norm(dim=1)
        assert error.max() < 1.5  # input pixels at 320x180; the annotation's clicks are noisy
    reference = plain[(-1, 0)][1]
    flip = torch.as_tensor(train_set.flip)
    assert torch.equal(flipped["visible"], reference["visible"][flip])
    named = np.asarray(GROUND_29)
    assert (named[train_set.flip] == FLIP_57[named]).all()  # the subset's flip is the 57-point one


def test_the_focal_term_rewards_a_sharp_peak_and_ignores_untrainable_channels():
    keypoints = torch.tensor([[[40.3, 30.7], [100.0, 60.0]]])
    target = {
        "keypoints": keypoints,
        "visible": torch.tensor([[True, True]]),
        "trainable": torch.tensor([[1, 1]]),
    }
    wanted = gaussian_targets(keypoints, target["visible"], (48, 80), stride=2, sigma=2.0)
    exact = torch.log(wanted.clamp_min(1e-4) / wanted.clamp_min(1e-4).sum(dim=1, keepdim=True))
    shifted = exact.roll(shifts=3, dims=3)
    focal = MaskedHeatmapLoss(stride=2, sigma=2.0, focal_weight=1.0)
    assert focal(exact, target) < focal(shifted, target)
    only_first = {**target, "trainable": torch.tensor([[1, 0]])}
    mixed = exact.clone()
    mixed[:, 1] = shifted[:, 1]
    assert torch.isclose(focal(exact, only_first), focal(mixed, only_first))


def test_metrics_of_perfect_predictions(prepared):
    cfg = prepared()
    task = get_task(MODEL)
    _, val = task.datasets(cfg)
    pck, reprojection, score = task.metrics(cfg)
    for metric in (pck, reprojection, score):
        metric.reset()
    for index in range(len(val)):
        _, target = val[(-1, index)]
        batch_target = {k: v[None] for k, v in target.items()}
        prediction = {
            "xy": batch_target["keypoints"],
            "confidence": batch_target["visible"].float(),
            "homography": batch_target["homography"],
        }
        for metric in (pck, reprojection, score):
            metric.update({"prediction": prediction, "target": batch_target})
    assert pck.compute() == {5.0: 1.0, 10.0: 1.0}
    errors = reprojection.compute()
    assert errors["fit_rate"] == 1.0 and errors["reproj_max_m"] < 1e-3
    # the official score of the true homographies' cameras, computed at 960x540 without the model's pixels
    official = CalibrationMetric()
    for index in range(len(val)):
        annotation = val.annotation(index)
        truth = keypoints_from_annotation(canonical_side(annotation), 960, 540).homography
        official.update(camera_from_homography(truth), annotation)
    result = score.compute()
    assert result["completeness"] == 1.0
    assert result["score"] == pytest.approx(official.compute()["final_score"]) and result["score"] > 0.5


def test_a_frame_without_a_fit_counts_as_a_failure(prepared):
    cfg = prepared()
    task = get_task(MODEL)
    _, val = task.datasets(cfg)
    _, reprojection, _ = task.metrics(cfg)
    targets = torch.utils.data.default_collate([val[(-1, i)][1] for i in range(3)])
    predicted = targets["homography"].clone()
    predicted[:2] = float("nan")  # two of three frames without a fit
    reprojection.update({"prediction": {"homography": predicted}, "target": targets})
    errors = reprojection.compute()
    assert errors["fit_rate"] == pytest.approx(1 / 3)
    assert errors["reproj_median_m"] == float("inf")  # most frames failed: not hidden by the one that did not
    assert errors["reproj_mean_m"] < 1e-3


def test_the_time_estimate_counts_the_real_network_and_the_fit(prepared):
    cfg = prepared()
    task = get_task(MODEL)
    train_set, _ = task.datasets(cfg)
    batch = torch.utils.data.default_collate([train_set[(0, i)] for i in range(2)])
    found = estimate(task, cfg, batch, 2, 16_463, 3_212, T4)
    assert 150e9 < found.flops_per_sample < 600e9  # ResNet-50 + FPN at 960x544, forward + backward
    assert 1 < found.seconds_per_epoch / 60 < 30


def test_evaluate_draws_the_fitted_pitch_and_export_describes_the_keypoints(prepared, folders):
    cfg = prepared(
        "data.num_workers=0",
        "logging.progress=false",
        "train.max_steps=2",
        f"export.dir={folders['tmp'] / 'downloads'}",
        profile="smoke",
    )
    train(cfg)
    report = evaluate(cfg)
    wanted = {"val_loss", "val_pck@5", "val_reproj_median_m", "val_fit_rate", "val_acc@5", "val_score"}
    assert wanted <= report.metrics.keys()
    assert report.figure is not None and report.figure.axes
    meta = load_portable(export(cfg))["meta"]
    assert len(meta["keypoint_names"]) == 29 and meta["keypoint_names"][-3] == "centre mark"
    assert np.allclose(meta["keypoint_world_m"], WORLD_57[list(GROUND_29), :2])
    assert meta["input_size"] == [320, 180] and meta["heatmap_stride"] == 2


@pytest.mark.slow
def test_the_smoke_model_overfits_eight_frames(prepared):
    cfg = prepared(
        "data.synthetic_frames.valid=8",  # the validation split is the training split: 8 frames
        "data.val_split=train",
        "data.augment=false",
        "data.num_workers=0",
        "logging.progress=false",
        "train.batch_size=4",
        "train.epochs=60",
        "train.val_every_epochs=60",
        "train.optimizer.lr=2e-3",
        "train.scheduler.name=cosine",
        "train.scheduler.min_lr=1e-5",
        "train.monitor=val_reproj_median_m",
        "train.monitor_mode=min",
        "checkpoint.every_steps=null",
        profile="smoke",
    )
    started = time.perf_counter()
    result = train(cfg)
    print(
        f"\noverfit: median reprojection {result.best_metric:.3f} m in {time.perf_counter() - started:.0f} s"
    )
    assert result.status == "finished"
    assert result.best_metric < 1.0  # metres, median over the 8 training frames
