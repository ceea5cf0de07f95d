"""train-all: the seven models in order, resumed after a kill, failures reported, the notebook.

The models train on their smoke profiles, shrunk further (one epoch, a few samples) because
these tests are about the orchestration: each model's own tests cover its training.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import REPO

from colab_utils import runtime as rt
from colab_utils import suite
from colab_utils.engine.checkpoint import CheckpointStore
from colab_utils.portable import load_portable
from colab_utils.suite import (
    FAILED,
    NO_DATA,
    NOT_STARTED,
    ORDER,
    SKIPPED,
    TRAINED,
    TRAINING,
    WAITING,
    select_models,
    split_overrides,
    train_all,
)

SMALL = [
    "train.epochs=1",
    "data.num_workers=0",
    "logging.progress=false",
    "sportlight_hrnet57:data.synthetic_frames.train=4",
    "sportlight_hrnet57:data.synthetic_frames.valid=2",
    "homography:data.synthetic_frames.train=4",
    "homography:data.synthetic_frames.valid=2",
    "ball3d:data.clips.train=8",
    "ball3d:data.clips.valid=4",
    "reid:data.synthetic_actions.train=8",
    "reid:data.synthetic_actions.valid=8",
    "detr:data.frames_per_clip.train=2",
    "gnn:data.synthetic.minutes=1.0",
]  # baller2vec keeps its smoke size: 26 batches, a checkpoint every 4, so it can be killed mid-epoch


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data folder for the module: the synthetic datasets are generated once."""
    return tmp_path_factory.mktemp("data")


def environment(tmp_path: Path, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "COLAB_UTILS_DRIVE": str(tmp_path / "drive"), "COLAB_UTILS_DATA": str(data_dir)}
    env.pop("COLAB_RELEASE_TAG", None)
    # one thread per process: torch's default oversubscribes a shared 2-core machine badly
    return {**env, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **extra}


def use_folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_dir: Path) -> None:
    """The same folders for train_all() called in this process."""
    monkeypatch.setenv("COLAB_UTILS_DRIVE", str(tmp_path / "drive"))
    monkeypatch.setenv("COLAB_UTILS_DATA", str(data_dir))
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)


def train_all_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "colab_utils", "train-all", "--profile", "smoke", *args]


def summary(drive: Path, run: str) -> dict[str, dict[str, str]]:
    with open(drive / "colab_utils" / "train_all" / run / "summary.csv", newline="") as f:
        return {row["model"]: row for row in csv.DictReader(f)}


def section(log: str, model: str) -> str:
    """What was printed while ``model`` trained."""
    found = re.search(rf"== train \d+/\d+: {model} ==\n(.*?)(?=\n== |\Z)", log, re.S)
    assert found, f"{model} did not train:\n{log[-3000:]}"
    return found[1]


@pytest.mark.slow
def test_train_all_resumes_the_model_it_was_killed_in_and_skips_the_finished_ones(tmp_path, data_dir):
    env, drive = environment(tmp_path, data_dir), tmp_path / "drive"
    command = train_all_command("run.name=suite", *SMALL)
    third = CheckpointStore(drive / "colab_utils" / ORDER[2] / "suite-smoke" / "checkpoints")

    first = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    deadline = time.monotonic() + 300
    while not third.step_files() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert third.step_files(), f"{ORDER[2]} wrote no checkpoint:\n{first.communicate()[0][-3000:]}"
    os.killpg(first.pid, signal.SIGKILL)  # the runtime vanishes in the middle of the third model
    first.wait()
    killed_at = third.step_files()[0].name
    state = json.loads((drive / "colab_utils" / "train_all" / "suite" / "state.json").read_text())
    assert [row["status"] for row in state["models"]] == [TRAINED, TRAINED, TRAINING] + [WAITING] * 4

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert f"Resuming from {killed_at}" in section(second.stdout, ORDER[2])
    assert not re.search(rf"== train \d+/\d+: ({ORDER[0]}|{ORDER[1]}) ==", second.stdout)
    rows = summary(drive, "suite")
    assert list(rows) == list(ORDER)
    assert [rows[m]["status"] for m in ORDER] == [SKIPPED, SKIPPED] + [TRAINED] * 5
    assert rows[ORDER[2]]["note"] == f"resumed from {killed_at}"
    for model, row in rows.items():
        assert load_portable(row["weights"])["model"] == model
        assert row["metric"] and float(row["value"]) == float(row["value"])  # a number, not NaN


@pytest.mark.slow
def test_a_model_without_data_and_a_failing_model_are_reported_and_the_others_train(tmp_path, data_dir):
    with socket.socket() as closed:  # a port nobody listens on: the Hub cannot be reached
        closed.bind(("127.0.0.1", 0))
        hub = f"http://127.0.0.1:{closed.getsockname()[1]}"
    env = environment(tmp_path, data_dir, HF_ENDPOINT=hub)
    broken = ["sportlight_hrnet57:data.source=soccernet", "homography:train.optimizer.name=NoSuchOptimizer"]
    models = "--models", "gnn,homography,sportlight_hrnet57"
    result = subprocess.run(
        train_all_command(*models, "run.name=broken", *SMALL, *broken),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    rows = summary(tmp_path / "drive", "broken")
    assert list(rows) == ["sportlight_hrnet57", "homography", "gnn"]  # training order, not the asked order
    assert rows["sportlight_hrnet57"]["status"] == NO_DATA
    assert rows["sportlight_hrnet57"]["note"].startswith("DownloadUnavailable: Downloading calibration-2023")
    assert rows["homography"]["status"] == FAILED and "NoSuchOptimizer" in rows["homography"]["note"]
    assert "homography failed: ValueError" in result.stdout
    assert rows["gnn"]["status"] == TRAINED and Path(rows["gnn"]["weights"]).is_file()


def test_a_nearly_spent_session_starts_no_model_and_says_where_to_continue(
    tmp_path, data_dir, monkeypatch, capsys
):
    use_folders(monkeypatch, tmp_path, data_dir)
    late = rt.setup(profile="smoke", time_budget_h=0.1, verbose=False)  # 6 minutes left
    table = train_all("smoke", ["baller2vec"], "late", SMALL, runtime=late)
    assert table.status.tolist() == [NOT_STARTED]
    assert "re-run to continue with baller2vec." in capsys.readouterr().out
    assert not (tmp_path / "drive" / "colab_utils" / "baller2vec" / "late-smoke").exists()


def test_the_stop_button_stops_every_model_not_just_the_one_training(tmp_path, data_dir, monkeypatch):
    use_folders(monkeypatch, tmp_path, data_dir)

    def stop_pressed(cfg, runtime):  # what the trainer raises after its deferred checkpoint
        raise KeyboardInterrupt

    monkeypatch.setattr(suite, "train", stop_pressed)
    with pytest.raises(KeyboardInterrupt):
        train_all("smoke", ["baller2vec", "gnn"], "stopped", SMALL)
    state = json.loads(
        (tmp_path / "drive" / "colab_utils" / "train_all" / "stopped" / "state.json").read_text()
    )
    assert [(row["model"], row["status"]) for row in state["models"]] == [
        ("baller2vec", TRAINING),
        ("gnn", WAITING),
    ]


def test_models_are_chosen_in_training_order_and_overrides_go_where_they_are_addressed():
    assert select_models(["gnn", "homography"]) == select_models("gnn,homography") == ["homography", "gnn"]
    with pytest.raises(
        ValueError, match=f"Unknown model.s. hrnet. Valid models, in training order: {ORDER[0]}"
    ):
        select_models(["gnn", "hrnet"])
    per_model = split_overrides(["train.epochs=1", "gnn:train.epochs=5", "run.name=a:b"], ["reid", "gnn"])
    assert per_model == {
        "reid": ["train.epochs=1", "run.name=a:b"],
        "gnn": ["train.epochs=1", "train.epochs=5", "run.name=a:b"],
    }
    with pytest.raises(ValueError, match="'gnnn' is not a model"):
        split_overrides(["gnnn:train.epochs=5"], ["gnn"])


@pytest.mark.slow
def test_the_notebook_trains_a_subset_headless(tmp_path, data_dir):
    env, workdir = environment(tmp_path, data_dir), tmp_path / "work"
    workdir.mkdir()
    params = ["-p", "SMOKE", "True", "-p", "RUN_NAME", "nb", "-y", "MODELS: [gnn]"]
    params += ["-y", "OVERRIDES: " + json.dumps(SMALL)]
    command = [
        sys.executable,
        "-m",
        "papermill",
        str(REPO / "notebooks" / "train_all.ipynb"),
        str(tmp_path / "out.ipynb"),
    ]
    result = subprocess.run(
        [*command, *params, "--cwd", str(workdir), "--no-progress-bar"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert summary(tmp_path / "drive", "nb")["gnn"]["status"] == TRAINED
    shown = "".join(
        output.get("text", "") + output.get("data", {}).get("text/plain", "")
        for cell in nbformat.read(tmp_path / "out.ipynb", as_version=4).cells
        for output in cell.get("outputs", [])
    )
    assert shown.count("trained now") == 1  # the summary table is shown, once
