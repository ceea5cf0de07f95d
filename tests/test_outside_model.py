"""An eighth model is one package outside the library: tests/toy_model, registered by its own
``__init__.py`` and named in its config (``task: toy_model``). It goes through train, a SIGKILL,
resume, export and predict by the public API and the CLI, and no library file names it."""

from __future__ import annotations

import numpy as np
import torch
from conftest import CONFIGS, REPO
from toy_model.network import ToyNet

import colab_utils
from colab_utils.engine.checkpoint import CheckpointStore
from colab_utils.registry import model_package, shipped_models

ARGS = ("train", "toy", "--config-dir", str(CONFIGS), "data.num_workers=2", "logging.progress=false")


def newest(drive, run: str) -> dict:
    return CheckpointStore(drive / "colab_utils" / "toy" / run / "checkpoints").newest_valid().payload


def test_no_library_file_names_the_outside_model():
    named = [p for p in (REPO / "colab_utils").rglob("*") if p.is_file() and b"toy_model" in p.read_bytes()]
    assert named == []
    assert "toy_model" not in shipped_models()
    found = model_package("toy_model")
    assert (found.package, found.extras, found.train_order) == ("toy_model", None, None)


def test_outside_model_trains_is_killed_resumes_exactly_exports_and_predicts(run_cli, folders, toy_config):
    reference = run_cli(*ARGS, "run.name=whole")
    assert reference.returncode == 0, reference.stderr
    killed = run_cli(*ARGS, "run.name=killed", env={"TOY_KILL_AT_BATCH": "17"})
    assert killed.returncode == -9, killed.stderr
    resumed = run_cli(*ARGS, "run.name=killed")
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming from step-" in resumed.stdout
    whole, again = newest(folders["drive"], "whole"), newest(folders["drive"], "killed")
    assert again["progress"]["global_step"] == whole["progress"]["global_step"] == 36
    assert all(torch.equal(whole["model"][k], again["model"][k]) for k in whole["model"])

    cfg = toy_config("run.name=killed", f"export.dir={folders['tmp'] / 'downloads'}")
    weights = colab_utils.export(cfg)
    points = np.random.default_rng(0).normal(size=(6, 8)).astype(np.float32)
    prediction = colab_utils.predict(weights, points)
    assert len(prediction) == 6 and prediction.task == "toy_model"
    net = ToyNet(dim=8, hidden=32, dropout=0.2).eval()
    net.load_state_dict(torch.load(weights, weights_only=True)["state_dict"])
    expected = net(torch.from_numpy(points)).argmax(dim=1).tolist()
    assert [r.label for r in prediction] == [("negative", "positive")[i] for i in expected]
