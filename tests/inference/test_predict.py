"""predict(): a model on the user's own frames from the exported .pth alone.

The models here are the smoke profile's, exported after one training step: untrained, so
they find no camera, which is what a user sees for a frame without a pitch. Whether a trained
model's cameras match the truth is measured where the smoke model is trained to overfit
(tests/test_sportlight_hrnet57.py); here the geometry is checked from true keypoints.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from camera_checks import overlay_offsets, pitch_errors
from conftest import REPO

from colab_utils.calibration import source as calibration_source
from colab_utils.config import load_config
from colab_utils.errors import InputError
from colab_utils.geometry.camera import Camera
from colab_utils.geometry.keypoints import GROUND_29, WORLD_57
from colab_utils.inference import video as video_module
from colab_utils.inference.api import load_predictor, predict
from colab_utils.inference.inputs import Frame, read_frames
from colab_utils.inference.transfer import deliver_results, input_paths, weights_file
from colab_utils.inference.video import H264, MP4V, VideoPrediction
from colab_utils.models.homography.predictor import homography_result
from colab_utils.models.sportlight_hrnet57.predictor import camera_result
from colab_utils.pipeline import prepare_data, train
from colab_utils.portable import export, load_portable

MODELS = ("sportlight_hrnet57", "homography")
TINY = [
    "data.synthetic_frames.train=2",
    "data.synthetic_frames.valid=2",
    "data.num_workers=0",
    "logging.progress=false",
    "train.batch_size=1",
    "train.max_steps=1",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Both calibration models exported after one smoke step, their frames as the user's files and
    the true cameras; the run and data folders are deleted, so only the .pth files remain."""
    root = tmp_path_factory.mktemp("predict")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the machine's other core stays free
    weights = {}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("COLAB_UTILS_DRIVE", str(root / "drive"))
        env.setenv("COLAB_UTILS_DATA", str(root / "data"))
        env.delenv("COLAB_RELEASE_TAG", raising=False)
        for model in MODELS:
            cfg = load_config(model, "smoke", TINY, verbose=False)
            prepare_data(cfg)
            train(cfg)
            weights[model] = Path(shutil.copy(export(cfg, download=False), root / f"{model}.pth"))
        best = Path(shutil.copy(Path(cfg.run.dir) / "checkpoints" / "best.pth", root / "best.pth"))
        frames = root / "my_frames"
        frames.mkdir()
        for image, _ in calibration_source.verified_split(cfg, "valid").pairs:
            shutil.copy(image, frames)
        zips = calibration_source.source_root(cfg) / "zips" / "calibration-2023"
        truth = json.loads((zips / "valid_cameras.json").read_text())
    torch.set_num_threads(threads)
    shutil.rmtree(root / "drive")
    shutil.rmtree(root / "data")
    return {"weights": weights, "best": best, "frames": frames, "truth": truth, "root": root}


def test_frames_come_from_folders_lists_videos_and_arrays(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    gradient = np.tile(np.arange(64, dtype=np.uint8), (48, 1))
    image = np.dstack([gradient, gradient[::-1], np.full_like(gradient, 200)])
    cv2.imwrite(str(folder / "b.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(folder / "a.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    (folder / "c.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "notes.txt").write_text("not a frame")

    report = read_frames(folder)
    assert [f.name for f in report.frames] == ["a", "b"]  # sorted by name
    assert np.array_equal(report.frames[1].image, image)  # RGB, as stored
    (what, why), *more = report.skipped
    assert what == str(folder / "c.jpg") and "OpenCV" in why and not more
    assert "ignored 1 files" in report.summary() and "Skipped 1 unreadable input" in report.summary()

    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 25, (64, 48))
    for level in range(12):
        writer.write(np.full((48, 64, 3), 20 * level, np.uint8))
    writer.release()
    report = read_frames([folder / "a.jpg", video], every=5)
    assert [f.name for f in report.frames] == ["a", "clip_000000", "clip_000005", "clip_000010"]
    levels = [f.image.mean() for f in report.frames[1:]]
    assert np.allclose(levels, [0, 100, 200], atol=6)  # the 1st, 6th and 11th frames
    assert "clip.mp4: kept 3 frames (1 in 5 of 12 decoded)" in report.summary()
    capped = read_frames([video, folder], max_frames=2)
    assert len(capped.frames) == 2 and "stopped at max_frames=2" in capped.summary()
    assert "1 more inputs were not read" in capped.summary()

    stack = np.stack([image, image[::-1]])
    report = read_frames(stack)
    assert [f.name for f in report.frames] == ["array_000", "array_001"]
    assert np.array_equal(report.frames[1].image, image[::-1])
    with pytest.raises(ValueError, match="RGB uint8"):
        read_frames(image.astype(np.float32))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_frames(tmp_path / "missing.jpg")
    with pytest.raises(ValueError, match=r"(?s)No readable frame.*videos \(\.mp4.*c\.jpg: not an image"):
        read_frames(folder / "c.jpg")


def test_a_file_that_is_not_the_export_is_refused_saying_which_file_to_give(exported, tmp_path):
    with pytest.raises(ValueError, match=r"training checkpoint.*python -m colab_utils export <model>"):
        load_predictor(exported["best"])
    not_torch = tmp_path / "frame.pth"
    shutil.copy(next(exported["frames"].iterdir()), not_torch)
    with pytest.raises(ValueError, match=r"not a weights file torch can open safely.*export step"):
        load_predictor(not_torch)
    state_only = tmp_path / "state.pth"
    torch.save(load_portable(exported["weights"]["homography"])["state_dict"], state_only)
    with pytest.raises(ValueError, match="not a colab_utils portable weights file"):
        load_predictor(state_only)
    with pytest.raises(ValueError, match=r"holds the 'homography' model, not 'sportlight_hrnet57'"):
        load_predictor(exported["weights"]["homography"], model="sportlight_hrnet57")
    payload = load_portable(exported["weights"]["homography"])
    payload["task"] = "penalty_kicks"
    torch.save(payload, tmp_path / "future.pth")
    refused = r"unknown task 'penalty_kicks'.*predict\(\) runs .*sportlight_hrnet57"
    with pytest.raises(ValueError, match=refused):
        load_predictor(tmp_path / "future.pth")


def test_both_calibration_models_run_on_frames_of_any_size_from_the_export_alone(exported, tmp_path):
    frames = tmp_path / "mixed"
    shutil.copytree(exported["frames"], frames)
    first = cv2.imread(str(next(frames.glob("*.jpg"))))
    cv2.imwrite(str(frames / "phone.png"), cv2.resize(first, (640, 480)))  # 4:3, another size
    (frames / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    for model in MODELS:
        prediction = predict(exported["weights"][model], frames, model=model, batch_size=2)
        assert [r.name for r in prediction] == ["00000", "00001", "phone"]
        assert [name for name, _ in prediction.inputs.skipped] == [str(frames / "broken.png")]
        label = "camera" if model == "sportlight_hrnet57" else "homography"
        found = sum(r.found for r in prediction)  # one step of training: little or no pitch found
        assert f"{found} of 3 with a {label}" in prediction.summary()
        assert all(r.summary() in prediction.summary() for r in prediction)
        paths = prediction.save(tmp_path / model)
        cameras = [f"camera_{r.name}.json" for r in prediction if r.camera is not None]
        assert sorted(p.name for p in paths) == sorted(
            ["00000.png", "00001.png", "phone.png", "results.json", *cameras]
        )
        assert cv2.imread(str(tmp_path / model / "phone.png")).shape == (480, 640, 3)  # the frame's own size
        saved = json.loads((tmp_path / model / "results.json").read_text())
        assert saved["model"] == model and [r["name"] for r in saved["results"]] == [
            "00000",
            "00001",
            "phone",
        ]
        assert [r["camera"] is None for r in saved["results"]] == [r.camera is None for r in prediction]
        assert saved["skipped"][0]["input"].endswith("broken.png")
        assert prediction[2].figure().axes  # what show() displays


def test_the_predictor_never_fetches_imagenet_weights(exported, tmp_path):
    payload = load_portable(exported["weights"]["homography"])
    payload["config"]["model"]["init_from"] = "imagenet"  # as the t4 profile trains it: ImageNet weights
    torch.save(payload, tmp_path / "t4like.pth")
    predictor = load_predictor(tmp_path / "t4like.pth")
    assert predictor.cfg.model.init_from == "none"


@pytest.mark.parametrize("source", ["keypoints", "homography"])
def test_true_geometry_is_saved_as_soccernet_camera_json_and_overlays_on_the_lines(
    exported, tmp_path, source
):
    """The half of the predictors after the network, fed the true keypoints of generated frames."""
    for path in sorted(exported["frames"].glob("*.jpg")):
        truth = Camera.from_json(exported["truth"][path.stem])
        frame = Frame(path.stem, cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB), str(path))
        width, height = frame.size
        uv, depth = truth.project(WORLD_57)
        seen = (depth > 0) & (uv >= 0).all(axis=1) & (uv[:, 0] <= width - 1) & (uv[:, 1] <= height - 1)
        if source == "keypoints":
            result = camera_result(frame, tuple(range(57)), np.nan_to_num(uv), seen.astype(float), 0.5)
        else:
            ground = list(GROUND_29)
            homography = truth.ground_homography()
            result = homography_result(
                frame, GROUND_29, uv[ground], seen[ground].astype(float), 0.5, homography
            )
        paths = result.save(tmp_path)
        assert [p.name for p in paths] == [f"{path.stem}.png", f"camera_{path.stem}.json"]
        camera = Camera.from_json(json.loads(paths[1].read_text()))
        errors = pitch_errors(camera, truth, width, height)
        overlay = cv2.cvtColor(cv2.imread(str(paths[0])), cv2.COLOR_BGR2RGB)
        offsets = overlay_offsets(overlay, frame.image, truth)
        print(
            f"\n{source} {path.stem}: pitch error max {errors.max():.3f} px; overlay offset "
            f"median {np.median(offsets):.2f}, p90 {np.percentile(offsets, 90):.2f} px"
        )
        assert errors.max() < 0.5
        # lines are drawn 2 px wide (antialiased), keypoints as dots of radius 5 px
        assert np.median(offsets) <= 1.5 and np.percentile(offsets, 90) <= 3.0
        assert "camera: focal" in result.summary()

    # three keypoints fit nothing: the frame is reported, its overlay still written, no camera file
    three = np.isin(np.arange(57), np.flatnonzero(seen)[:3]).astype(float)
    if source == "keypoints":
        result = camera_result(frame, tuple(range(57)), np.nan_to_num(uv), three, 0.5)
    else:
        result = homography_result(frame, GROUND_29, uv[ground], three[ground], 0.5, None)
    assert not result.found and result.camera is None
    (tmp_path / "three").mkdir()
    assert [p.name for p in result.save(tmp_path / "three")] == [f"{path.stem}.png"]
    assert "too few keypoints, or none fits them" in result.summary()


def synthetic_video(path: Path, frame: np.ndarray, count: int, size: tuple[int, int] = (64, 36)) -> Path:
    """``count`` frames of ``frame`` (BGR) at ``size``, shifted a pixel more each frame, as an mp4v clip."""
    small = cv2.resize(frame, size)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, size)
    for i in range(count):
        writer.write(np.roll(small, i % 8, axis=1))
    writer.release()
    return path


def read_video(path: Path) -> tuple[list[np.ndarray], float]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while (read := capture.read())[0]:
        frames.append(read[1])
    return frames, capture.get(cv2.CAP_PROP_FPS)


@pytest.mark.slow
def test_a_300_frame_video_streams_into_an_annotated_mp4_of_300_frames(exported, tmp_path):
    first = cv2.imread(str(next(exported["frames"].glob("*.jpg"))))
    clip = synthetic_video(tmp_path / "match clip.mp4", first, 300)
    assert video_module.find_ffmpeg(), "no ffmpeg: pip install imageio-ffmpeg (a test tool)"
    out = tmp_path / "out"
    options = {"batch_size": 16, "smooth": 0.5, "progress": False}
    prediction = predict(exported["weights"]["homography"], [clip], video_out=out / "clip.mp4", **options)
    assert isinstance(prediction, VideoPrediction) and prediction.codec == H264  # what browsers play
    assert "match clip.mp4: predicted 300 frames (300 decoded)" in prediction.summary()
    drawn, fps = read_video(out / "clip.mp4")
    assert len(drawn) == 300 and drawn[0].shape == (36, 64, 3) and fps == pytest.approx(25)
    assert np.abs(drawn[5].astype(int) - np.roll(cv2.resize(first, (64, 36)), 5, axis=1)).mean() < 20
    records = [json.loads(line) for line in (out / "frames.jsonl").read_text().splitlines()]
    assert len(records) == 300 and records[1]["name"] == "match_clip_000001"
    assert records[299]["source"].endswith("match clip.mp4 frame 299")

    paths = prediction.save(tmp_path / "saved")
    assert sorted(p.name for p in paths) == ["clip.mp4", "frames.jsonl", "results.json"]
    assert json.loads((tmp_path / "saved" / "results.json").read_text())["codec"] == H264
    assert prediction.save(out)[0] == out / "clip.mp4"  # saving where it was written copies nothing


def test_without_ffmpeg_opencv_writes_mp4v_and_says_browsers_do_not_play_it(exported, tmp_path, monkeypatch):
    first = cv2.imread(str(next(exported["frames"].glob("*.jpg"))))
    clip = synthetic_video(tmp_path / "clip.mp4", first, 12)
    monkeypatch.setattr(video_module, "find_ffmpeg", lambda: None)
    prediction = predict(exported["weights"]["homography"], clip, progress=False)
    assert prediction.codec == MP4V and "Browsers (Chrome, Firefox) do not play mp4v" in prediction.summary()
    drawn, _ = read_video(prediction.video)
    assert len(drawn) == 12 and drawn[0].shape == (36, 64, 3)


def test_a_video_is_read_every_nth_frame_up_to_max_frames_and_a_broken_one_is_named(exported, tmp_path):
    first = cv2.imread(str(next(exported["frames"].glob("*.jpg"))))
    clip = synthetic_video(tmp_path / "clip.mp4", first, 30)
    weights = exported["weights"]["sportlight_hrnet57"]
    prediction = predict(weights, clip, every=4, max_frames=5, progress=False)
    assert (prediction.frames, prediction.decoded) == (5, 17)  # frames 0, 4, ..., 16
    drawn, fps = read_video(prediction.video)
    assert len(drawn) == 5 and fps == pytest.approx(25 / 4)  # the clip's duration is kept
    assert prediction.video.name == "clip_sportlight_hrnet57.mp4"
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    with pytest.raises(InputError, match=r"OpenCV cannot open the video .*broken\.mp4.*H\.264 mp4"):
        predict(weights, broken, progress=False)
    with pytest.raises(ValueError, match="weight of the past frames"):
        predict(weights, clip, smooth=1.5)


def test_in_colab_files_are_uploaded_and_results_downloaded(fake_colab, exported, tmp_path, monkeypatch):
    uploads = {"model.pth": exported["weights"]["homography"].read_bytes(), "a.jpg": b"x", "b.jpg": b"y"}
    picks = iter([["model.pth"], ["a.jpg", "b.jpg"]])

    def upload() -> dict[str, bytes]:  # Colab writes the chosen files into the current folder
        chosen = {name: uploads[name] for name in next(picks)}
        for name, data in chosen.items():
            Path(name).write_bytes(data)
        return chosen

    monkeypatch.setattr(sys.modules["google.colab.files"], "upload", upload, raising=False)
    monkeypatch.chdir(tmp_path)
    weights = weights_file("")
    assert weights == Path("uploads/weights/model.pth") and load_portable(weights)["model"] == "homography"
    assert input_paths("") == [Path("uploads/frames/a.jpg"), Path("uploads/frames/b.jpg")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["uploads"]  # nothing left in the working folder
    (tmp_path / "predictions").mkdir()
    (tmp_path / "predictions" / "results.json").write_text("{}")
    archive = deliver_results("predictions")
    assert fake_colab.downloads == [str(archive)] and archive.name == "predictions.zip"


def test_outside_colab_paths_are_required(folders):
    with pytest.raises(ValueError, match="Set WEIGHTS"):
        weights_file("")
    with pytest.raises(ValueError, match="Set INPUTS"):
        input_paths("")
    with pytest.raises(FileNotFoundError, match="check INPUTS"):
        input_paths(str(folders["tmp"] / "nowhere"))


def test_the_notebook_runs_headless(exported, tmp_path):
    notebook = REPO / "notebooks" / "try_your_frames.ipynb"
    out = tmp_path / "predictions"
    command = [sys.executable, "-m", "papermill", str(notebook), str(tmp_path / "run.ipynb")]
    for name, value in (
        ("WEIGHTS", exported["weights"]["sportlight_hrnet57"]),
        ("INPUTS", exported["frames"]),
        ("OUT_DIR", out),
    ):
        command += ["-p", name, str(value)]
    command += ["-p", "SMOKE", "True", "--cwd", str(tmp_path), "--no-progress-bar"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    saved = {p.name for p in out.iterdir()} - {"camera_00000.json"}  # a camera, if the frame got one
    assert saved == {"00000.png", "results.json"}  # SMOKE: one frame
    assert (tmp_path / "predictions.zip").is_file()
