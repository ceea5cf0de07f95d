"""The calibration challenge submission: SoccerNet's layout, read back by SoccerNet's own evaluator,
from a trained model on the challenge split (images only) downloaded like the other splits."""

from __future__ import annotations

import dataclasses
import json
import zipfile

import numpy as np
import pytest
from hub_server import HubServer, run_python

from colab_utils.calibration.submission import challenge_submission, write_submission
from colab_utils.calibration.synthetic import generate_calibration_dataset
from colab_utils.config import load_config
from colab_utils.geometry import metric as M
from colab_utils.pipeline import evaluate, prepare_data, train
from colab_utils.synthetic.annotate import annotate
from colab_utils.synthetic.cameras import KINDS, random_camera

PREPARE_CHALLENGE = """
import json, sys
from pathlib import Path
from colab_utils.calibration.annotations import prepare_calibration
report = prepare_calibration(Path(sys.argv[1]), ["challenge"])["challenge"]
print("RESULT " + json.dumps([len(report.pairs), [p.name for p in report.unlabelled]]))
"""


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # its per-class table, unused here
def test_the_zip_has_soccernets_layout_and_soccernets_evaluator_reads_it(tmp_path):
    evaluator = pytest.importorskip("SoccerNet.Evaluation.CameraCalibration")
    rng = np.random.default_rng(3)
    truth, cameras = {}, {}
    for i in range(6):
        camera, _ = random_camera(rng, KINDS[i % len(KINDS)])
        truth[f"{i:05d}"] = annotate(camera, rng)
        cameras[f"{i:05d}"] = None if i == 4 else dataclasses.replace(camera, tilt=camera.tilt + 0.05 * i)
    submission = tmp_path / "challenge.zip"
    assert write_submission(cameras, submission) == 1
    names = zipfile.ZipFile(submission).namelist()
    assert names == [f"camera_{i:05d}.json" for i in range(6) if i != 4]  # flat, one per frame with a camera
    labels = tmp_path / "challenge_labels.zip"  # how SoccerNet keeps the labels: <split>/<frame>.json
    with zipfile.ZipFile(labels, "w") as archive:
        for stem, annotation in truth.items():
            archive.writestr(f"challenge/{stem}.json", json.dumps(annotation))
    official = evaluator.evaluate(str(labels), str(submission), threshold=5)
    zipfile.ZipFile(submission).extractall(tmp_path / "extracted")
    (tmp_path / "labels").mkdir()
    for stem, annotation in truth.items():
        (tmp_path / "labels" / f"{stem}.json").write_text(json.dumps(annotation))
    ours = M.evaluate_folder(tmp_path / "extracted", tmp_path / "labels", thresholds=(5,))
    assert official["completeness"] == ours["completeness"] == pytest.approx(5 / 6)
    assert official["meanAccuracies"] == pytest.approx(ours["acc@5"])
    assert ours["acc@5"] > 0.5  # nearly the true cameras: SoccerNet finds them, not an empty read


def test_the_challenge_split_downloads_like_the_others_and_has_images_only(tmp_path):
    made = generate_calibration_dataset(tmp_path / "hosted", {"challenge": 3}, width=160, height=90)
    files = {"challenge.zip": made.zips["challenge"].read_bytes()}
    with HubServer({"SoccerNet/SN-Calibration-2023": files}) as hub:
        done = run_python(PREPARE_CHALLENGE, hub.endpoint, tmp_path / "hf_home", str(tmp_path / "data"))
    assert done.returncode == 0, done.stderr
    result = [json.loads(line[7:]) for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert result == [[0, ["00000.jpg", "00001.jpg", "00002.jpg"]]], done.stdout + done.stderr


def test_a_trained_model_scores_test_once_and_writes_a_challenge_submission(folders, capsys):
    model = "homography"
    overrides = ["data.num_workers=0", "logging.progress=false", "train.max_steps=2"]
    cfg = load_config(model, "smoke", overrides, verbose=False)
    prepare_data(cfg)
    train(cfg)
    capsys.readouterr()
    tested = evaluate(cfg, split="test")
    out = capsys.readouterr().out
    assert f"{model} on the test split (8 samples), weights from best.pth, chosen on 'valid': test" in out
    assert "test_loss" in tested.metrics and not any(key.startswith("val_") for key in tested.metrics)
    path = challenge_submission(cfg)
    out = capsys.readouterr().out
    assert path == folders["drive"] / "colab_utils" / model / "default-smoke" / "submission" / (
        f"{model}-challenge.zip"
    )
    names = zipfile.ZipFile(path).namelist()
    assert set(names) <= {f"camera_{i:05d}.json" for i in range(8)}
    count = f"{len(names)} camera JSONs for 8 frames of challenge; {8 - len(names)} frame(s) without a camera"
    assert count in out
    for name in names:
        assert set(json.loads(zipfile.ZipFile(path).read(name))) >= {"pan_degrees", "x_focal_length"}
