"""Smoke runs and real runs never share a run folder, and a run folder holding another model's
checkpoint is reported by the data step, before anything is downloaded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import CONFIGS

from colab_utils.config import load_config
from colab_utils.engine.trainer import ModelConfigMismatch
from colab_utils.pipeline import prepare_data, train
from colab_utils.registry import get_task

FAST = ("data.num_workers=0", "logging.progress=false")


def test_a_smoke_run_has_its_own_folder_and_says_its_metrics_are_about_zero(toy_config, capsys):
    smoke = load_config("toy", "smoke", ["run.name=exp"], config_dir=CONFIGS)
    said = capsys.readouterr().out
    real = toy_config("run.name=exp")
    assert Path(smoke.run.dir).name == "exp-smoke" and Path(real.run.dir).name == "exp"
    assert smoke.run.dir != real.run.dir
    assert "expected to be about 0" in said and str(smoke.run.dir) in said


def test_a_real_run_after_a_smoke_run_of_the_same_name_trains_without_a_mismatch(toy_config):
    smoke = toy_config(*FAST, "model.hidden=4", "train.epochs=1", profile="smoke")
    assert train(smoke).status == "finished"
    real = toy_config(*FAST, "train.epochs=1")
    prepare_data(real)
    result = train(real)
    assert result.status == "finished" and result.resumed_from is None


def test_the_data_step_reports_another_models_checkpoint_before_downloading(toy_config, monkeypatch):
    train(toy_config(*FAST, "train.epochs=1"))
    task = get_task("toy_model")
    downloads: list[str] = []
    monkeypatch.setattr(type(task), "prepare_data", lambda self, cfg: downloads.append("data") or "")
    with pytest.raises(ModelConfigMismatch) as error:
        prepare_data(toy_config(*FAST, "model.hidden=4"))
    assert downloads == []  # nothing was downloaded before the mismatch was found
    message = str(error.value)
    assert "model.hidden: checkpoint 32, config 4" in message
    assert "RUN_NAME" in message and "run.resume=force" in message
    prepare_data(toy_config(*FAST, "model.hidden=4", "run.resume=force"))
    assert downloads == ["data"]


def test_a_smoke_checkpoint_under_a_real_runs_name_is_refused_before_the_data(toy_config, folders):
    """An older version's smoke run left in the real run's folder: the toy's smoke network has the
    same shape, so only the profile tells."""
    smoke = toy_config(*FAST, "train.epochs=1", profile="smoke")
    train(smoke)
    legacy = Path(folders["drive"]) / "colab_utils" / "toy" / "legacy"
    shutil.copytree(smoke.run.dir, legacy)
    with pytest.raises(ModelConfigMismatch, match=r"holds a smoke run's checkpoint.*cpu profile.*RUN_NAME"):
        prepare_data(toy_config(*FAST, "run.name=legacy"))
