"""predict() for ball3d, baller2vec and gnn from their exported .pth alone, on inputs as users have them.

The models are the smoke profiles', exported after one training step (so near their
untrained starting points: the ground baseline, constant velocity, flat classes). What is
checked is what a user relies on whatever the training: the predictors read files on disk
(a video with camera JSONs and a ball-track CSV; SkillCorner's match files, written by the
synthetic generator exactly as SkillCorner lays them out) into the same inputs the training
pipeline makes for the same moments, so the network sees what it was trained on; outputs
come in metres and pixels that agree with the generator's truth where geometry alone
decides them; saved files read back.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from colab_utils.config import load_config
from colab_utils.geometry.camera import Camera
from colab_utils.inference.api import load_predictor, predict
from colab_utils.models.ball3d import predictor as ball3d
from colab_utils.models.ball3d.samples import BallClips, clip_spec, ground_baseline
from colab_utils.models.ball3d.synthetic.physics import ROLL
from colab_utils.models.baller2vec import predictor as baller2vec
from colab_utils.models.baller2vec.rollout import rollout
from colab_utils.models.gnn.formations import FORMATIONS, ROLES
from colab_utils.models.gnn.graphs import batch_graphs, collate_windows
from colab_utils.models.gnn.task import edge_spec, generator_formations
from colab_utils.pipeline import prepare_data, train
from colab_utils.portable import export
from colab_utils.registry import get_task
from colab_utils.tracking import inputs as tracking_inputs
from colab_utils.tracking.skillcorner import PHASE_NAMES
from colab_utils.tracking.windows import WindowSpec, cut_window

COMMON = ["data.num_workers=0", "logging.progress=false", "train.max_steps=1"]
SMOKE = {
    "ball3d": ["data.clips.train=4", "data.clips.valid=2"],
    "baller2vec": ["data.valid_stride=400"],
    "gnn": ["data.synthetic.minutes=4.0", "data.window.valid_stride=400"],  # baller2vec's matches
}
HALF = 0.5  # the user's clip is 960x540: half the trained broadcast size


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The three models exported after one smoke step; the run folders are deleted, so only the
    .pth files and the generated data (SkillCorner's files of three synthetic matches) remain."""
    root = tmp_path_factory.mktemp("predict_tracking")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the machine's other core stays free
    weights, configs = {}, {}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("COLAB_UTILS_DRIVE", str(root / "drive"))
        env.setenv("COLAB_UTILS_DATA", str(root / "data"))
        env.delenv("COLAB_RELEASE_TAG", raising=False)
        for model, overrides in SMOKE.items():
            cfg = load_config(model, "smoke", [*COMMON, *overrides], verbose=False)
            prepare_data(cfg)
            train(cfg)
            weights[model] = Path(shutil.copy(export(cfg, download=False), root / f"{model}.pth"))
            configs[model] = cfg
    torch.set_num_threads(threads)
    shutil.rmtree(root / "drive")
    _, valid = get_task("baller2vec").datasets(configs["baller2vec"])
    match = valid.matches[0]  # the held-out match, read from the files below by the predictors
    folder = next((root / "data").rglob(f"{match.match_id}_match.json")).parent
    return {"weights": weights, "configs": configs, "match": match, "folder": folder, "root": root}


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


# ----------------------------------------------------------------- baller2vec


def test_baller2vec_forecasts_a_skillcorner_match_as_validation_rolls_it_out(exported, tmp_path):
    cfg, match = exported["configs"]["baller2vec"], exported["match"]
    _, valid = get_task("baller2vec").datasets(cfg)
    history, future = int(cfg.data.history), int(cfg.data.future)
    starts = [int(valid.index[k, 1]) for k in range(2)]
    frames = [int(match.frame_ids[s + history - 1]) for s in starts]  # the last observed frames
    prediction = predict(exported["weights"]["baller2vec"], exported["folder"], frame=frames)
    assert len(prediction) == 2 and "2 of 2 with a forecast" in prediction.summary()

    net = load_predictor(exported["weights"]["baller2vec"]).model.get_nn_module()
    for k, result in enumerate(prediction):
        sample = valid[k]
        expected = rollout(net, torch.utils.data.default_collate([sample]), history, future)[0].numpy()
        assert result.forecast.shape == (future, 23, 2)
        assert np.allclose(result.forecast, expected, atol=1e-4)  # the training pipeline's tokens
        present = sample["present"].numpy()
        truth = sample["positions"].numpy()[history:]
        known = present[history:] & np.isfinite(result.actual[..., 0])
        assert known.mean() > 0.9 and np.allclose(result.actual[known], truth[known], atol=1e-4)
        # the forecast starts where the past ends: one step on, within the bins of the last displacement
        last, previous = result.observed[-1], result.observed[-2]
        extents = np.r_[[cfg.model.bins.player_extent_m] * 22, cfg.model.bins.ball_extent_m]
        jump = np.linalg.norm(result.forecast[0] - (2 * last - previous), axis=-1)
        assert (jump <= extents * np.sqrt(2) + 1e-4).all()
        assert result.until.endswith(f"(frame {frames[k]})")

    paths = prediction.save(tmp_path)
    names = [r.name for r in prediction]
    assert sorted(p.name for p in paths) == sorted(
        [*(f"{n}.png" for n in names), *(f"{n}.csv" for n in names), "results.json"]
    )
    columns, rows = read_csv(tmp_path / f"{names[0]}.csv")
    assert columns == list(baller2vec.CSV_COLUMNS)
    forecast = [row for row in rows if row["kind"] == "forecast"]
    assert len(forecast) == 23 * future and {row["team"] for row in forecast} == {"home", "away", "ball"}
    first = prediction[0]
    for row in forecast[:future]:  # agent 0, steps 1..future, every 0.1 s, metres as returned
        step = int(row["step"])
        assert float(row["time_s"]) == pytest.approx(step / 10)
        assert [float(row["x"]), float(row["y"])] == pytest.approx(first.forecast[step - 1, 0], abs=1e-4)
    observed_now = [r for r in rows if r["kind"] == "observed" and r["step"] == "0" and r["agent"] == "22"]
    assert [float(observed_now[0]["x"]), float(observed_now[0]["y"])] == pytest.approx(first.observed[-1, 22])
    assert {int(r["player_id"]) for r in forecast if r["team"] != "ball"} <= {
        p.player_id for p in match.players
    }
    saved = json.loads((tmp_path / "results.json").read_text())
    agents = saved["results"][0]["agents"]
    assert len(agents) == 23 and len(agents[0]["forecast"]) == future and agents[-1]["team"] == "ball"
    assert cv2.imread(str(tmp_path / f"{names[0]}.png")) is not None


def test_baller2vec_reads_arrays_and_infers_which_goal_each_team_attacks(exported):
    cfg, match = exported["configs"]["baller2vec"], exported["match"]
    history = int(cfg.data.history)
    window = cut_window(match, 0, 400, WindowSpec(history, 1))
    array = np.concatenate([window.players, window.ball[:, None, :2]], axis=1)
    assert tracking_inputs.attack_direction(window.players) == window.home_direction
    assert tracking_inputs.attack_direction(-window.players) == -window.home_direction

    frame = int(match.frame_ids[400 + history - 1])
    from_match = predict(exported["weights"]["baller2vec"], exported["folder"], frame=frame)[0]
    longer = np.concatenate([np.full((5, 23, 2), np.nan), array])  # earlier frames are left out
    prediction = predict(exported["weights"]["baller2vec"], [array, longer])
    assert [r.name for r in prediction] == ["array_000", "array_001"]
    assert "inferred from where the goalkeepers stand" in prediction.inputs.summary()
    assert np.array_equal(prediction[0].forecast, prediction[1].forecast)
    # the match's own tokens also say which positions SkillCorner only extrapolated: nearly the same
    assert np.abs(prediction[0].forecast - from_match.forecast).max() < 0.05
    assert prediction[0].errors() is None and "against what happened" not in prediction[0].summary()


# ----------------------------------------------------------------- gnn


def test_gnn_reads_a_match_window_as_training_does_and_saves_probabilities(exported, tmp_path):
    cfg, match = exported["configs"]["gnn"], exported["match"]
    _, valid = get_task("gnn").datasets(cfg)
    start = int(valid.index[0, 1])
    prediction = predict(
        exported["weights"]["gnn"],
        exported["folder"] / f"{match.match_id}_match.json",
        frame=int(match.frame_ids[start]),
    )
    result = prediction[0]
    net = load_predictor(exported["weights"]["gnn"]).model.get_nn_module()
    with torch.no_grad():
        expected = net(batch_graphs(collate_windows([valid[0]]), edge_spec(cfg)))
    assert np.allclose(result.role_probabilities, expected["role"].softmax(-1)[:-1].numpy(), atol=1e-5)
    assert np.allclose(
        result.formation_probabilities, expected["formation"].softmax(-1)[0].numpy(), atol=1e-5
    )
    assert np.allclose(result.phase_probabilities, expected["phase"].softmax(-1)[0].numpy(), atol=1e-5)
    truth = generator_formations(cfg, match, np.array([start]))[0]
    assert result.rule == list(truth)  # the labelling rule on the match read by the predictor

    paths = prediction.save(tmp_path)
    assert sorted(p.name for p in paths) == sorted(
        [f"{result.name}.png", f"{result.name}.json", "results.json"]
    )
    saved = json.loads((tmp_path / f"{result.name}.json").read_text())
    for team in ("home", "away"):
        formation = saved["formations"][team]
        assert set(formation["probabilities"]) == set(cfg.data.formations) <= set(FORMATIONS)
        assert sum(formation["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert formation["formation"] == max(formation["probabilities"], key=formation["probabilities"].get)
    phase = saved["phase"]
    assert set(phase["probabilities"]) == set(PHASE_NAMES) and phase["phase"] in PHASE_NAMES
    assert sum(phase["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert len(phase["per_graph"]) == int(cfg.data.window.frames)
    players = saved["players"]
    assert len(players) == 22 and {p["team"] for p in players} == {"home", "away"}
    assert all(
        p["role"] in ROLES and sum(p["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        for p in players
    )
    assert all(p["match_sheet_role"] in ROLES for p in players)  # the synthetic sheet names every starter
    assert all(abs(p["mean_x"]) < 60 and abs(p["mean_y"]) < 40 for p in players)
    assert cv2.imread(str(tmp_path / f"{result.name}.png")) is not None
    assert f"home {result.formations()['home']['formation']}" in result.summary()


def test_gnn_takes_arrays_in_any_row_order_given_team_labels(exported):
    cfg, match = exported["configs"]["gnn"], exported["match"]
    span = (int(cfg.data.window.frames) - 1) * int(cfg.data.window.step) + 1
    window = cut_window(match, 0, 400, WindowSpec(span, 1))
    array = np.concatenate([window.players, window.ball[:, None, :2]], axis=1)
    order = np.r_[22, np.arange(11, 22)[::-1], np.arange(11)]  # the ball first, then away, then home
    teams = ["ball", *["away"] * 11, *[0] * 11]
    plain = predict(exported["weights"]["gnn"], array)[0]
    shuffled = predict(exported["weights"]["gnn"], array[:, order], teams=teams)[0]
    assert np.allclose(plain.formation_probabilities, shuffled.formation_probabilities, atol=1e-6)
    assert np.allclose(plain.phase_probabilities, shuffled.phase_probabilities, atol=1e-6)
    assert {p["team"] for p in shuffled.players} == {"home", "away"} and len(shuffled.players) == 22
    with pytest.raises(ValueError, match=r"teams needs one label per row \(23\)"):
        predict(exported["weights"]["gnn"], array, teams=teams[:-1])
    with pytest.raises(ValueError, match="12 home"):
        predict(exported["weights"]["gnn"], array, teams=[0] * 12 + [1] * 10 + [2])


def test_tracking_inputs_that_cannot_work_are_refused_saying_why(exported, tmp_path):
    match, folder = exported["match"], exported["folder"]
    weights = exported["weights"]["baller2vec"]
    gap = np.flatnonzero(np.isnan(match.positions[..., 0]).all(axis=1) & (match.periods == 1))[20]
    moments = (
        r"nearest moments that have it: \d\d:\d\d\.\d \(frame \d+\) before, \d\d:\d\d\.\d \(frame \d+\) after"
    )
    with pytest.raises(ValueError, match=rf"No window at \d\d:\d\d\.\d: .*replay or close-up.*{moments}"):
        predict(weights, folder, at=tracking_inputs.clock(match.times[gap]))
    with pytest.raises(ValueError, match="is not in match"):
        predict(weights, folder, frame=10**7)
    with pytest.raises(ValueError, match="'mm:ss'"):
        predict(weights, folder, at="half time")
    with pytest.raises(ValueError, match="not both"):
        predict(weights, folder, at=60, frame=600)
    with pytest.raises(ValueError, match=r"tracking data, not int.*SkillCorner match"):
        predict(weights, 7)
    with pytest.raises(ValueError, match=r"shape \(10, 22, 2\): give \(frames, 23, 2\)"):
        predict(weights, np.zeros((10, 22, 2)))
    with pytest.raises(ValueError, match="the model needs 10"):
        predict(weights, np.zeros((4, 23, 2)))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"holds no <id>_match.json"):
        predict(exported["weights"]["gnn"], tmp_path / "empty")
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(folder / f"{match.match_id}_match.json", alone)
    with pytest.raises(FileNotFoundError, match=r"tracking_extrapolated\.jsonl is missing"):
        predict(exported["weights"]["gnn"], alone)
    with pytest.raises(ValueError, match="every= samples video frames"):
        predict(exported["weights"]["gnn"], folder, every=5)


# ----------------------------------------------------------------- ball3d


def test_ball3d_crops_are_laid_out_as_in_training_and_the_lens_is_undone():
    image = np.zeros((200, 300, 3), np.uint8)
    centre = np.array([140.0, 90.0])
    for scale, offset, expected in ((2.0, (8, -6), (19.5, 12.5)), (0.5, (3, 2), (21.5, 19.5))):
        dotted = image.copy()
        x, y = (centre + offset).astype(int)
        dotted[y - 1 : y + 2, x - 1 : x + 2] = 255  # a 3x3 dot centred on the pixel (x, y)
        crop = ball3d.cut_crop(dotted, centre, scale, 32)[..., 0].astype(float)
        rows, cols = np.indices(crop.shape)
        found = ((cols * crop).sum() / crop.sum(), (rows * crop).sum() / crop.sum())
        assert found == pytest.approx(expected, abs=0.3)
    white = np.full((200, 300, 3), 255, np.uint8)
    corner = ball3d.cut_crop(white, np.array([5.0, 5.0]), 2.0, 32)  # crop pixel j sits at 5 + (j - 15.5) * 2
    assert (corner[:, :12] == 0).all() and (corner[:12] == 0).all() and (corner[14:, 14:] == 255).all()

    lens = Camera(10, 70, 0.5, [0, 50, -15], 1200, 1200, 960, 540, radial=[-0.12, 0.03, 0.001, 0.01, 0, 0])
    lens = dataclasses.replace(
        lens, tangential=np.array([1e-3, -8e-4]), thin_prism=np.array([5e-4, 0, -4e-4, 0])
    )
    pinhole = Camera(10, 70, 0.5, [0, 50, -15], 1200, 1200, 960, 540)
    xs, ys = np.meshgrid(np.linspace(-50, 50, 11), np.linspace(-30, 30, 7))
    ground = np.column_stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)])
    seen, depth = lens.project(ground)
    inside = (depth > 0) & (seen >= 0).all(axis=1) & (seen[:, 0] < 1920) & (seen[:, 1] < 1080)
    assert np.abs(seen[inside] - pinhole.project(ground[inside])[0]).max() > 20  # the lens moves them
    assert np.abs(ball3d.undistort(lens, seen[inside]) - pinhole.project(ground[inside])[0]).max() < 0.01


@pytest.fixture(scope="module")
def ball_clip(exported) -> dict:
    """A validation clip of a rolling ball as a user has it: a 960x540 video, the calibration's
    camera_<frame>.json files and a detector's CSV (frame, u, v; empty where it missed)."""
    cfg = exported["configs"]["ball3d"]
    spec = clip_spec(cfg)
    clips = BallClips(spec, 8, int(cfg.data.content_seed), "valid")
    index = next(i for i in range(8) if (clips.clip(i).labels == ROLL).all())
    clip = clips.clip(index)
    folder = exported["root"] / "ball_clip"
    cameras = folder / "calibration"
    cameras.mkdir(parents=True)
    width, height = (round(v * HALF) for v in spec.frame_size)
    writer = cv2.VideoWriter(str(folder / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 25, (width, height))
    names = [f"clip_{t:06d}" for t in range(spec.frames)]
    for t, camera in enumerate(clip.cameras):
        frame = np.full((height, width, 3), (50, 120, 60), np.uint8)
        if clip.visible[t]:
            cv2.circle(frame, tuple(int(v) for v in np.round(clip.uv[t] * HALF)), 3, (255, 255, 255), -1)
        writer.write(frame)
        small = dataclasses.replace(
            camera, fx=camera.fx * HALF, fy=camera.fy * HALF, cx=camera.cx * HALF, cy=camera.cy * HALF
        )
        (cameras / f"camera_{names[t]}.json").write_text(json.dumps(small.to_json()))
    writer.release()
    with open(folder / "ball.csv", "w", newline="") as handle:
        table = csv.writer(handle)
        table.writerow(["frame", "u", "v"])
        for t, name in enumerate(names):
            table.writerow([name, *(clip.track[t] * HALF if clip.detected[t] else ("", ""))])
    return {
        "clip": clip,
        "index": index,
        "clips": clips,
        "folder": folder,
        "names": names,
        "cameras": cameras,
    }


def test_ball3d_places_the_ball_in_metres_from_a_video_its_cameras_and_track(exported, ball_clip, tmp_path):
    clip, folder = ball_clip["clip"], ball_clip["folder"]
    weights = exported["weights"]["ball3d"]
    options = {"cameras": ball_clip["cameras"], "track": folder / "ball.csv"}
    predictor = load_predictor(weights, **options)
    prepared = predictor.clip(predictor.read(folder / "clip.mp4").frames)
    sample, _ = ball_clip["clips"].get(ball_clip["index"], np.random.default_rng(0))
    for key in ("geometry", "origin", "rays", "track", "ground_depth", "crop_scale"):  # training's inputs
        assert torch.allclose(prepared.inputs[key][0], sample[key], rtol=1e-5, atol=1e-5), key

    prediction = predict(weights, folder / "clip.mp4", **options)
    result = prediction[0]
    assert "1 of 1 with a 3-D track" in prediction.summary() and result.frames == ball_clip["names"]
    assert np.allclose(result.ground, ground_baseline(clip), atol=1e-6)
    assert np.linalg.norm(result.ground - clip.positions, axis=1).max() < 0.3  # rolling: on the ground
    assert (np.abs(result.positions[:, 0]) < 57.5).all() and (np.abs(result.positions[:, 1]) < 39).all()
    assert (result.heights > -0.5).all() and (result.heights < 30).all()
    # the 3-D point reprojects, in the frame's own pixels, inside the crop the network looked at
    half_crop = predictor.spec.crop_size / 2 * prepared.inputs["crop_scale"][0].numpy() * HALF
    assert (np.linalg.norm(result.uv - clip.track * HALF, axis=1) < half_crop).all()

    paths = prediction.save(tmp_path)
    assert sorted(p.name for p in paths) == ["clip.csv", "clip.png", "results.json"]
    columns, rows = read_csv(tmp_path / "clip.csv")
    assert columns == list(ball3d.CSV_COLUMNS) and [r["frame"] for r in rows] == ball_clip["names"]
    assert [float(r["time_s"]) for r in rows] == pytest.approx(np.arange(len(rows)) / 25)
    xyz = np.array([[float(r[k]) for k in ("x", "y", "z")] for r in rows])
    assert np.allclose(xyz, result.positions, atol=1e-3)
    assert [int(r["detected"]) for r in rows] == clip.detected.astype(int).tolist()
    assert cv2.imread(str(tmp_path / "clip.png")) is not None
    assert len(json.loads((tmp_path / "results.json").read_text())["results"][0]["frames"]) == len(rows)

    # the broadcast-size cameras as a list: rescaled to the frames, the same answer
    listed = predict(weights, folder / "clip.mp4", cameras=clip.cameras, track=folder / "ball.csv")[0]
    assert np.allclose(listed.positions, result.positions, atol=1e-4)
    assert "cameras rescaled to the 960x540 frames" in listed.summary()
    # a calibration prediction's results.json (its frames' names and cameras) serves as well
    saved = tmp_path / "calibration_results"
    saved.mkdir()
    cameras = [
        json.loads((ball_clip["cameras"] / f"camera_{n}.json").read_text()) for n in ball_clip["names"]
    ]
    results = [{"name": n, "camera": c} for n, c in zip(ball_clip["names"], cameras, strict=True)]
    (saved / "results.json").write_text(json.dumps({"model": "homography", "results": results}))
    from_results = predict(weights, folder / "clip.mp4", cameras=saved, track=folder / "ball.csv")[0]
    assert np.allclose(from_results.positions, result.positions, atol=1e-6)
    # frames the calibration found no camera for take the nearest frame's
    some = tmp_path / "some_cameras"
    shutil.copytree(ball_clip["cameras"], some)
    for name in ball_clip["names"][3:5]:
        (some / f"camera_{name}.json").unlink()
    patched = predict(weights, folder / "clip.mp4", cameras=some, track=folder / "ball.csv")[0]
    assert "2 frames without a camera took the nearest frame's" in patched.summary()


def test_ball3d_says_what_it_needs_that_frames_do_not_carry(exported, ball_clip, tmp_path):
    weights, folder = exported["weights"]["ball3d"], ball_clip["folder"]
    video, track, cameras = folder / "clip.mp4", folder / "ball.csv", ball_clip["cameras"]
    with pytest.raises(ValueError, match=r"needs the camera of every frame.*prediction.save\(\)"):
        predict(weights, video, track=track)
    with pytest.raises(ValueError, match="places a ball a detector found"):
        predict(weights, video, cameras=cameras)
    other = tmp_path / "other"
    other.mkdir()
    (other / "camera_match_000000.json").write_text((cameras / "camera_clip_000000.json").read_text())
    with pytest.raises(ValueError, match=r"None of the 16 frames \(clip_000000 \.\.\. clip_000015\)"):
        predict(weights, video, cameras=other, track=track)
    xy = tmp_path / "xy.csv"
    xy.write_text("frame,x,y\nclip_000000,1,2\n")
    with pytest.raises(ValueError, match=r"has the columns \['frame', 'x', 'y'\]"):
        predict(weights, video, cameras=cameras, track=xy)
    with pytest.raises(ValueError, match=r"shape \(3, 2\) for 16 frames"):
        predict(weights, video, cameras=cameras, track=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="give at least two"):
        predict(weights, video, cameras=cameras, track=np.full((16, 2), np.nan))
    fast = tmp_path / "fast.mp4"
    writer = cv2.VideoWriter(str(fast), cv2.VideoWriter_fourcc(*"mp4v"), 50, (64, 48))
    for _ in range(4):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    predictor = load_predictor(weights, cameras=cameras, track=track)
    assert "predict with every=2" in predictor.read(fast).summary()
    assert "every=" not in predictor.read(fast, every=2).summary()
