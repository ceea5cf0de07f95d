"""ball3d: physics against closed forms, clips by index, crops, the ground baseline, the network's
parameterisation, the loss terms, the profile, the estimate, the pipeline, and beating the baseline."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from colab_utils.config import load_config
from colab_utils.geometry.rays import pixel_rays, plane_depth
from colab_utils.models.ball3d.loss import Ball3DLoss, flight_residual
from colab_utils.models.ball3d.samples import GEOMETRY_FEATURES, BallClips, clip_spec, ground_baseline
from colab_utils.models.ball3d.synthetic.clips import make_clip, track_ground_depth
from colab_utils.models.ball3d.synthetic.crops import random_scene, render_crops
from colab_utils.models.ball3d.synthetic.physics import (
    BOUNCE,
    FLIGHT,
    ROLL,
    TOUCH,
    BallParams,
    Touch,
    simulate,
)
from colab_utils.models.ball3d.synthetic.plays import launch_velocity
from colab_utils.pipeline import evaluate, prepare_data, train
from colab_utils.portable import export, load_portable
from colab_utils.registry import get_task
from colab_utils.synthetic.cameras import random_camera

MODEL = "ball3d"
NO_DRAG = BallParams(drag=False)
G = NO_DRAG.gravity
R = NO_DRAG.radius


def heights(trajectory, start: float, stop: float) -> np.ndarray:
    """Heights of the ball's bottom above the grass, finely sampled between two times."""
    positions, _ = trajectory.state_at(np.linspace(start, stop, 20001))
    return -positions[:, 2] - R


# ----------------------------------------------------------------- physics


@pytest.mark.parametrize(("speed", "angle"), [(20.0, 40.0), (12.0, 70.0), (28.0, 15.0)])
def test_drag_free_flight_time_and_apex_match_the_closed_forms(speed, angle):
    trajectory = simulate((0, 0, -R), launch_velocity(speed, angle), 8.0, NO_DRAG)
    rise = speed * math.sin(math.radians(angle))
    assert trajectory.bounces[0] == pytest.approx(2 * rise / G, abs=1e-6)  # the step is 10 ms
    apex = heights(trajectory, 0.0, trajectory.bounces[0]).max()
    assert apex == pytest.approx(rise**2 / (2 * G), abs=1e-4)
    landing, _ = trajectory.state_at([trajectory.bounces[0]])
    assert landing[0, 0] == pytest.approx(speed**2 * math.sin(math.radians(2 * angle)) / G, abs=1e-4)


@pytest.mark.parametrize("restitution", [0.5, 0.7, 0.85])
def test_each_bounce_reaches_e_squared_of_the_previous_height(restitution):
    params = dataclasses.replace(NO_DRAG, restitution=restitution)
    trajectory = simulate((0, 0, -R - 5.0), (3.0, 0, 0), 10.0, params)
    first, second, third = trajectory.bounces[:3]
    assert first == pytest.approx(math.sqrt(2 * 5.0 / G), abs=1e-6)
    assert heights(trajectory, first, second).max() == pytest.approx(restitution**2 * 5.0, rel=1e-4)
    assert heights(trajectory, second, third).max() == pytest.approx(restitution**4 * 5.0, rel=1e-4)


@pytest.mark.parametrize("speed", [3.0, 8.0])
def test_a_rolling_ball_stops_after_v_squared_over_2_mu_g(speed):
    trajectory = simulate((1.0, 2.0, -R), (0, speed, 0), 20.0, NO_DRAG)
    assert trajectory.rolling.all()
    travelled = trajectory.positions[-1, 1] - 2.0
    assert travelled == pytest.approx(speed**2 / (2 * NO_DRAG.rolling_friction * G), abs=1e-6)
    assert np.allclose(trajectory.velocities[-1], 0) and trajectory.positions[-1, 0] == pytest.approx(1.0)


def test_air_drag_shortens_a_long_ball():
    kick = launch_velocity(25.0, 30.0)
    dragged, free = (simulate((0, 0, -R), kick, 6.0, p) for p in (BallParams(), NO_DRAG))
    carry = [t.state_at([t.bounces[0]])[0][0, 0] for t in (dragged, free)]
    assert carry[0] < 0.85 * carry[1]  # 25 m/s at 30 degrees: drag takes more than 15 % of the carry
    assert BallParams().drag_per_metre == pytest.approx(1.2 * 0.25 * math.pi * 0.11**2 / (2 * 0.43))


def test_segment_labels_follow_the_ball_and_free_flight_obeys_gravity_and_drag():
    params = BallParams()
    touches = [
        Touch(0.3, launch_velocity(22.0, 35.0)),
        Touch(1.5, launch_velocity(9.0, 10.0, 150.0), "header"),
    ]
    trajectory = simulate((0, 0, -R), (0, 0, 0), 4.0, params, touches)
    times = np.arange(100) / 25
    labels = trajectory.labels(times)
    assert (labels[:7] == ROLL).all()  # at rest before the kick at 0.3 s
    assert labels[7] == TOUCH and labels[8] == TOUCH  # frames 0.28 and 0.32 s straddle the kick
    assert labels[int(1.5 * 25)] == TOUCH
    assert trajectory.bounces
    for bounce in trajectory.bounces:  # the frames on either side of an impact
        assert (labels[np.abs(times - bounce) < 0.04] == BOUNCE).all()
    positions, _ = trajectory.state_at(times)
    residual = flight_residual(torch.tensor(positions)[None], 25.0, params.gravity, params.drag_per_metre)[0]
    flight = torch.tensor(labels[1:-1] == FLIGHT)
    assert flight.sum() > 30
    assert residual[flight].norm(dim=-1).max() < 0.05  # m/s^2: the physics term's model is the generator's
    assert residual[~flight].norm(dim=-1).max() > 5  # bounces and touches are not free flight


# ----------------------------------------------------------------- clips and crops


@pytest.fixture(scope="module")
def smoke_cfg(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLAB_UTILS_DRIVE", str(tmp_path_factory.mktemp("drive")))
        patch.setenv("COLAB_UTILS_DATA", str(tmp_path_factory.mktemp("data")))
        return load_config(MODEL, "smoke", verbose=False)


def test_a_clip_is_a_function_of_its_index_and_split(smoke_cfg):
    spec = clip_spec(smoke_cfg)
    train_set = BallClips(spec, 100, content_seed=0, split="train", augment=True)
    again = BallClips(spec, 100, content_seed=0, split="train", augment=True)
    first, same = train_set.clip(3), again.clip(3)
    assert np.array_equal(first.crops, same.crops) and np.array_equal(first.positions, same.positions)
    assert not np.allclose(train_set.clip(4).positions, first.positions)
    held_out = BallClips(spec, 100, content_seed=0, split="valid").clip(3)
    assert not np.allclose(held_out.positions, first.positions)
    (inputs_a, target_a), (inputs_b, target_b) = train_set[(0, 3)], train_set[(5, 3)]
    assert torch.equal(target_a["position"], target_b["position"])  # content does not change with the epoch
    assert not torch.equal(inputs_a["crops"], inputs_b["crops"])  # augmentation does


def _rendered_ball(camera, ball, scene, size=48):
    """(radius px, centroid offset from the crop centre px) of a static ball rendered at ``ball``."""
    uv, _ = camera.project(ball[None])
    exposure = np.repeat(ball[None, None], 2, axis=1)
    behind = np.repeat((2 * camera.position - ball)[None, None], 2, axis=1)  # not in view: no ball
    common = dict(crop_size=size, frame_size=(1920, 1080))
    args = ([camera], uv, np.ones(1))
    with_ball = render_crops(scene, *args, exposure, np.random.default_rng(1), **common)[0].astype(float)
    without = render_crops(scene, *args, behind, np.random.default_rng(1), **common)[0].astype(float)
    mask = (with_ball - without).mean(axis=-1) > 20
    ys, xs = np.nonzero(mask)
    centroid = np.array([xs.mean(), ys.mean()]) - (size - 1) / 2
    return math.sqrt(mask.sum() / math.pi), centroid


def test_crops_show_the_ball_at_the_centre_with_its_size_shrinking_with_distance():
    rng = np.random.default_rng(7)
    camera, _ = random_camera(rng, "main_high", width=1920, height=1080)
    scene = dataclasses.replace(random_scene(rng), shadow_strength=0.0)
    rays = pixel_rays(camera, np.array([[960.0, 900.0], [960.0, 540.0], [960.0, 200.0]]))  # near to far
    depths = plane_depth(np.repeat(camera.position[None], 3, axis=0), rays, -R - 1.0)
    measured, expected = [], []
    for ray, depth in zip(rays, depths, strict=True):
        ball = camera.position + depth * ray  # a metre above the grass, in view
        radius, centroid = _rendered_ball(camera, ball, scene)
        assert np.abs(centroid).max() < 0.6  # the crop is centred on the ball
        measured.append(radius)
        expected.append(camera.fx * R / camera.to_camera_frame(ball[None])[0, 2])
    assert measured[0] > measured[1] > measured[2]
    assert np.allclose(measured, expected, rtol=0.25, atol=0.7)


def test_clip_crops_are_bright_at_the_ball_and_occlusions_hide_it(smoke_cfg):
    spec = dataclasses.replace(clip_spec(smoke_cfg), occlusion_rate=1.0)
    clips = [make_clip(np.random.default_rng(seed), spec) for seed in range(6)]
    centre, half = spec.crop_size // 2, 3
    seen, bright = 0, 0
    for clip in clips:
        grey = clip.crops.mean(axis=-1)
        middle = grey[:, centre - half : centre + half, centre - half : centre + half].max(axis=(1, 2))
        edges = np.concatenate([grey[:, :4], grey[:, -4:]], axis=1).reshape(len(grey), -1)
        shown = clip.detected
        seen += shown.sum()
        bright += (middle[shown] > np.median(edges, axis=1)[shown] + 30).sum()
        assert not clip.detected[~clip.visible].any()  # the detector never reports a hidden ball
    assert (~np.concatenate([c.visible for c in clips])).any()  # occlusions happened
    assert bright >= 0.9 * seen


# ----------------------------------------------------------------- the baseline


def test_the_ground_baseline_is_right_on_rolling_frames_and_wrong_in_flight(smoke_cfg):
    spec = dataclasses.replace(clip_spec(smoke_cfg), frames=24)
    rolling, flying, exact = [], [], []
    for seed in range(30):
        clip = make_clip(np.random.default_rng(seed), spec)
        error = np.linalg.norm(ground_baseline(clip) - clip.positions, axis=1)
        height = -clip.positions[:, 2] - R
        rolling.append(error[(clip.labels == ROLL) & clip.detected])
        flying.append(error[(height > 1.0) & clip.detected])
        perfect = dataclasses.replace(
            clip, track=clip.uv, ground_depth=track_ground_depth(clip.cameras, clip.uv, R)
        )
        exact.append(np.linalg.norm(ground_baseline(perfect) - clip.positions, axis=1)[clip.labels == ROLL])
    rolling, flying, exact = (np.concatenate(e) for e in (rolling, flying, exact))
    assert len(rolling) > 50 and len(flying) > 50
    assert np.median(rolling) < 0.3  # only the detector's noise, stretched along a shallow ray
    assert np.median(flying) > 3.0
    assert np.max(exact, initial=0) < 1e-3


# ----------------------------------------------------------------- network and loss


@pytest.fixture(scope="module")
def smoke_batch(smoke_cfg):
    task = get_task(MODEL)
    train_set, _ = task._splits(smoke_cfg)
    return torch.utils.data.default_collate([train_set[(0, i)] for i in range(2)])


def test_an_untrained_network_is_the_ground_baseline_and_reprojects_exactly(smoke_cfg, smoke_batch):
    task = get_task(MODEL)
    model = task.build_model(smoke_cfg, torch.device("cpu"))
    model.eval()
    with torch.no_grad():
        _, prediction, target = model.forward_loss(smoke_batch)
    assert torch.allclose(prediction["position"], target["baseline"], atol=2e-3)
    assert torch.equal(prediction["uv"], smoke_batch[0]["track"])


def _kick_bounce_roll(frames: int = 100) -> dict[str, torch.Tensor]:
    """A target of one clip: at rest, kicked at 0.3 s, in flight, bouncing, rolling."""
    kick = Touch(0.3, launch_velocity(15.0, 30.0))
    trajectory = simulate((0, 0, -R), (0, 0, 0), 5.0, BallParams(), [kick])
    times = np.arange(frames) / 25
    positions, _ = trajectory.state_at(times)
    return {
        "position": torch.tensor(positions, dtype=torch.float32)[None],
        "uv": torch.zeros(1, frames, 2),
        "visible": torch.ones(1, frames, dtype=torch.bool),
        "labels": torch.tensor(trajectory.labels(times))[None],
    }


def test_the_loss_vanishes_on_the_truth_and_its_physics_term_reads_free_flight_only():
    params = BallParams()
    loss = Ball3DLoss(fps=25.0, gravity=params.gravity, drag_per_metre=params.drag_per_metre)
    target = _kick_bounce_roll()
    labels = target["labels"][0].numpy()
    assert {FLIGHT, BOUNCE, ROLL, TOUCH} <= set(labels.tolist())
    truth = {"position": target["position"].clone(), "uv": target["uv"].clone()}
    terms = loss.terms(truth, target)
    assert terms["position"] < 2e-3 and terms["velocity"] < 0.03 and terms["reprojection"] < 2e-3
    assert terms["physics"] < 0.05  # m/s^2: float32 second differences of the generator's own flight

    def physics_after_moving(frame: int) -> float:
        moved = {k: v.clone() for k, v in truth.items()}
        moved["position"][0, frame, 2] -= 0.3
        return float(loss.terms(moved, target)["physics"])

    resting = int(np.flatnonzero(labels == ROLL)[-1])  # the last frame: rolling, far from any flight
    flying = int(np.flatnonzero(labels == FLIGHT)[5])
    assert physics_after_moving(resting) == pytest.approx(float(terms["physics"]), abs=1e-6)
    assert physics_after_moving(flying) > float(terms["physics"]) + 1.0


# ----------------------------------------------------------------- config, estimate, pipeline


def test_t4_profile_reports_what_it_patched(folders, capsys):
    load_config(MODEL, "t4")
    out = capsys.readouterr().out
    for line in (
        "train.batch_size  16 -> 8  (profile t4)",
        "train.accumulate  1 -> 2  (profile t4)",
        "train.amp  bf16 -> fp16  (profile t4)",
    ):
        assert line in out
    assert load_config(MODEL, "t4", verbose=False).derived.effective_batch_size == 16


def test_the_t4_network_runs_efficientnet_b3_on_every_frame(folders):
    cfg = load_config(MODEL, "t4", ["model.init_from=none"], verbose=False)
    model = get_task(MODEL).build_model(cfg, torch.device("cpu"))
    net = model.get_nn_module().to("meta")
    frames, size = int(cfg.data.frames), int(cfg.data.crop_size)
    with torch.device("meta"), FlopCounterMode(display=False) as counter:
        net(
            torch.zeros(1, frames, 3, size, size, dtype=torch.uint8),
            torch.zeros(1, frames, len(GEOMETRY_FEATURES)),
        )
    per_crop = counter.get_total_flops() / frames
    assert 0.15e9 < per_crop < 0.2e9  # EfficientNet-B3 at 64x64 (3.65 GFLOP at 300x300) + the TCN's share
    assert 10e6 < sum(p.numel() for p in net.backbone.parameters()) < 11e6


def test_prepare_train_evaluate_export(folders, capsys):
    overrides = ["data.clips.train=8", "data.clips.valid=4", "data.num_workers=0", "logging.progress=false"]
    exported = folders["tmp"] / "exported"
    cfg = load_config(
        MODEL, "smoke", [*overrides, "train.max_steps=2", f"export.dir={exported}"], verbose=False
    )
    summary = prepare_data(cfg)
    assert "8 training and 4 validation clips of 16 frames at 25 fps" in summary
    assert len(list(folders["data"].rglob("manifest.json"))) == 2  # both splits rendered once
    train(cfg)
    report = evaluate(cfg)
    keys = {"val_err3d_mean", "val_err3d_median", "val_height_err", "val_ade", "val_fde", "val_err3d_air"}
    assert keys | {f"val_baseline_{k[4:]}" for k in keys} <= report.metrics.keys()
    assert report.figure is not None and len(report.figure.axes) == 2
    payload = load_portable(export(cfg))
    assert (exported / "ball3d-default-smoke.pth").is_file()
    assert payload["meta"]["geometry_features"][0] == "track_u" and payload["meta"]["crop_size"] == 32


@pytest.mark.slow
def test_the_smoke_model_beats_the_ground_baseline_on_held_out_clips(folders):
    overrides = [
        "data.clips.train=128",
        "data.clips.valid=48",
        "data.num_workers=1",
        "train.epochs=3",
        "train.batch_size=8",
        "logging.progress=false",
        "checkpoint.every_steps=null",
    ]
    cfg = load_config(MODEL, "smoke", overrides, verbose=False)
    prepare_data(cfg)
    started = time.perf_counter()
    train(cfg)
    seconds = time.perf_counter() - started
    metrics = evaluate(cfg).metrics
    model, baseline = metrics["val_err3d_mean"], metrics["val_baseline_err3d_mean"]
    print(
        f"held-out mean 3-D error: model {model:.2f} m, ball on the ground {baseline:.2f} m ({seconds:.0f} s)"
    )
    assert (
        model < 0.9 * baseline
    )  # observed 0.68-0.82 after these 48 steps; the untrained net is the baseline
    assert metrics["val_err3d_air"] < metrics["val_baseline_err3d_air"]
