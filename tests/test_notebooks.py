"""Every model's notebook in notebooks/: the eight steps, no outputs, runs headless, resumes after a kill.

Every notebook (the suite's own, such as train_all, included) installs from and links to the
one repository. The model notebooks are executed for real with papermill on the smoke profile,
in a kernel of this environment; "killed" means SIGKILL to papermill and its kernel at once,
the way a Colab runtime disappears, after the first mid-epoch checkpoint reached "Drive".
"""

from __future__ import annotations

import ast
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from conftest import REPO

from colab_utils import repository
from colab_utils.config import load_config
from colab_utils.engine.checkpoint import CheckpointStore
from colab_utils.registry import shipped_models

ALL_NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
NOTEBOOKS = [path for path in ALL_NOTEBOOKS if path.stem in shipped_models()]  # one per model
STEPS = ("Install", "Parameters", "Setup", "Config", "Data", "Train", "Evaluate", "Export")


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def parameters(notebook: nbformat.NotebookNode) -> dict:
    (cell,) = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    return {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(cell.source).body
        if isinstance(node, ast.Assign)
    }


def test_every_model_has_its_notebook():
    assert sorted(path.stem for path in NOTEBOOKS) == sorted(shipped_models())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_the_eight_steps_in_order_and_no_outputs(path):
    notebook = read(path)
    headings = [
        line[3:].split(". ", 1)
        for cell in notebook.cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("## ")
    ]
    assert [(n, s) for n, s in headings] == [(str(i), step) for i, step in enumerate(STEPS, 1)]
    assert not [c for c in notebook.cells if c.cell_type == "code" and (c.outputs or c.execution_count)]
    params = parameters(notebook)
    assert {"MODEL", "PROFILE", "RUN_NAME", "TIME_BUDGET_H", "SMOKE", "TRACKER"} <= params.keys()
    assert params["MODEL"] == path.stem and params["SMOKE"] is False and params["TRACKER"] is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_cells_show_each_thing_once_and_tensorboard_opens_in_the_notebook(path):
    """A cell ending in an expression shows its value below what the step printed: only the evaluate
    picture may (pipeline.evaluate closes it, so the inline backend does not show it too)."""
    shown = []
    for cell in read(path).cells:
        if cell.cell_type != "code":
            continue
        magics_out = [re.sub(r"%.*", "pass", line) for line in cell.source.splitlines()]
        body = ast.parse("\n".join(magics_out)).body
        if body and isinstance(body[-1], ast.Expr) and not isinstance(body[-1].value, ast.Call):
            shown.append(ast.unparse(body[-1]))
    assert shown == ["report.figure"]
    (tensorboard,) = [c.source for c in read(path).cells if "%tensorboard" in c.source]
    assert tensorboard.startswith('if TRACKER == "tensorboard":')
    assert '%tensorboard --logdir "{cfg.run.dir}/tensorboard"' in tensorboard


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_installs_from_and_links_to_the_one_repository(path):
    text = path.read_text()
    assert repository.PIP_SOURCE in text
    assert repository.colab_url(f"notebooks/{path.name}") in text


def papermill(path: Path, out: Path, workdir: Path, env: dict, *params: str) -> subprocess.Popen:
    """papermill on ``path``; ``params`` are its options (default: a smoke run named nbtest)."""
    params = params or ("-p", "SMOKE", "True", "-p", "RUN_NAME", "nbtest")
    command = [sys.executable, "-m", "papermill", str(path), str(out), *params]
    command += ["--cwd", str(workdir), "--log-output", "--no-progress-bar"]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def kill_process_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants at once. The Jupyter kernel runs in a session of
    its own, so killing papermill's process group would leave it training for up to a second
    (until it notices its parent is gone) and writing checkpoints after the "kill"."""
    root = psutil.Process(pid)
    for process in [*root.children(recursive=True), root]:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGKILL)


def outputs(notebook_path: Path) -> str:
    notebook = read(notebook_path)
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", "") + str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_headless_and_resumes_after_being_killed(path, tmp_path):
    model = parameters(read(path))["MODEL"]
    drive, workdir = tmp_path / "drive", tmp_path / "work"
    workdir.mkdir()
    env = {
        **os.environ,
        "COLAB_UTILS_DRIVE": str(drive),
        "COLAB_UTILS_DATA": str(tmp_path / "data"),
        "PYTHONPATH": str(REPO),
    }
    store = CheckpointStore(drive / "colab_utils" / model / "nbtest-smoke" / "checkpoints")

    first = papermill(path, tmp_path / "first.ipynb", workdir, env)
    deadline = time.monotonic() + 600
    while not store.step_files() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert store.step_files(), f"no checkpoint appeared; papermill said:\n{first.communicate()[0][-3000:]}"
    kill_process_tree(first.pid)  # the runtime vanishes: papermill and the kernel, no cleanup
    first.wait()
    killed_at = [p.name for p in store.step_files()]

    second = papermill(path, tmp_path / "second.ipynb", workdir, env)
    log, _ = second.communicate(timeout=900)
    assert second.returncode == 0, log[-4000:]
    text = outputs(tmp_path / "second.ipynb")
    said = [line for line in text.splitlines() if "esum" in line or "finished" in line or "damaged" in line]
    assert f"Resuming from {killed_at[0]}" in text, said  # it did not start over
    assert (workdir / "exported" / f"{model}-nbtest-smoke.pth").is_file()
    assert "TrainResult(" not in text and "PosixPath(" not in text
    assert "Training finished." in text and "a smoke run: metrics of about 0 are expected" in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_starts_from_init_from_and_shares_to_hub_repo_when_asked(path):
    notebook = read(path)
    params = parameters(notebook)
    assert params["INIT_FROM"] is None and params["HUB_REPO"] is None  # the profile's start; no upload
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    (config,) = [source for source in code if "load_config(MODEL" in source]
    assert 'f"model.init_from={INIT_FROM}"' in config and "*start, *OVERRIDES" in config  # overrides win
    (export,) = [source for source in code if "colab_utils.export(cfg)" in source]
    assert export.splitlines() == [
        "weights = colab_utils.export(cfg)",
        "if HUB_REPO:",
        "    colab_utils.push_to_hub(weights, HUB_REPO)",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_test_split_is_scored_once_after_the_export_where_the_model_has_one(path, folders):
    """After the export, so that a long or failing test download cannot keep the weights from the user;
    the calibration notebooks then write the SoccerNet challenge submission."""
    model = path.stem
    code = [cell.source for cell in read(path).cells if cell.cell_type == "code"]
    after_export = code[next(i for i, source in enumerate(code) if "colab_utils.export(cfg)" in source) + 1 :]
    expected = []
    if load_config(model, "smoke", [], verbose=False).data.get("test_split"):
        expected.append('test_report = colab_utils.evaluate(cfg, split="test")')
    if model in ("sportlight_hrnet57", "homography"):
        expected.append("submission = colab_utils.challenge_submission(cfg)")
    assert after_export == expected
    assert model not in ("detr", "sportlight_hrnet57", "homography") or expected


def notebook_env(tmp_path: Path) -> dict:
    return {
        **os.environ,
        "COLAB_UTILS_DRIVE": str(tmp_path / "drive"),
        "COLAB_UTILS_DATA": str(tmp_path / "data"),
        "PYTHONPATH": str(REPO),
        "HF_ENDPOINT": "http://127.0.0.1:9",  # nothing answers: a download would fail, not reach the Hub
    }


@pytest.mark.slow
def test_a_real_run_after_a_smoke_run_of_the_same_name_starts_afresh_and_a_misfit_stops_before_the_data(
    tmp_path,
):
    """The issue a user met: "Run it once with SMOKE = True", then Run all for real under the same
    RUN_NAME. The real run (cpu profile, synthetic frames, 2 steps) starts afresh in its own folder.
    A run folder that does hold another model's checkpoint (a smoke run of an older version) stops
    the data cell before anything is downloaded, saying what to do."""
    path = REPO / "notebooks" / "sportlight_hrnet57.ipynb"
    env, workdir = notebook_env(tmp_path), tmp_path / "work"
    workdir.mkdir()
    runs = tmp_path / "drive" / "colab_utils" / "sportlight_hrnet57"
    smoke = papermill(
        path, tmp_path / "smoke.ipynb", workdir, env, "-p", "SMOKE", "True", "-p", "RUN_NAME", "exp"
    )
    assert smoke.wait(timeout=900) == 0, smoke.communicate()[0][-4000:]

    real_params = ["-p", "PROFILE", "cpu", "-p", "RUN_NAME", "exp", "-p", "DATA_SOURCE", "synthetic"]
    small = '["train.max_steps=2", "data.synthetic_frames.train=4", "data.synthetic_frames.valid=2"]'
    real = papermill(path, tmp_path / "real.ipynb", workdir, env, *real_params, "-y", f"OVERRIDES: {small}")
    log, _ = real.communicate(timeout=900)
    assert real.returncode == 0, log[-4000:]
    text = outputs(tmp_path / "real.ipynb")
    assert "Resuming from" not in text and "Training reached train.max_steps." in text
    assert CheckpointStore(runs / "exp" / "checkpoints").newest_valid() is not None
    assert CheckpointStore(runs / "exp-smoke" / "checkpoints").newest_valid() is not None

    shutil.copytree(runs / "exp-smoke", runs / "legacy")  # a smoke checkpoint under a real run's name
    misfit = papermill(
        path, tmp_path / "misfit.ipynb", workdir, env, "-p", "PROFILE", "cpu", "-p", "RUN_NAME", "legacy"
    )
    log, _ = misfit.communicate(timeout=900)
    assert misfit.returncode != 0
    assert "ModelConfigMismatch" in log and "holds a smoke run's checkpoint" in log and "RUN_NAME" in log
    assert "Downloading" not in log and "the Hub could not be reached" not in log
    assert not (tmp_path / "data" / "soccernet").exists()  # nothing downloaded, not even started


@pytest.mark.parametrize("model", ["sportlight_hrnet57", "homography", "detr", "reid"])
def test_vision_notebooks_fine_tune_on_the_users_folder(model):
    """DATA_SOURCE and DATA_FOLDER reach the config, a path with spaces included."""
    notebook = read(REPO / "notebooks" / f"{model}.ipynb")
    params = parameters(notebook)
    assert params["DATA_SOURCE"] is None and params["DATA_FOLDER"] is None
    markdown = [c.source for c in notebook.cells if c.cell_type == "markdown"]
    assert any("Fine-tune on your own frames" in text for text in markdown)
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and "overrides = [" in c.source]
    body = cell.source.replace("cfg = colab_utils.load_config", "# ")
    scope = {"RUN_NAME": "r", "OVERRIDES": [], "INIT_FROM": None, "TRACKER": None, "SMOKE": False}
    scope |= {"DATA_SOURCE": "folder", "DATA_FOLDER": "/content/drive/MyDrive/my frames.zip"}
    exec(body, scope)
    cfg = load_config(model, "smoke", scope["overrides"], verbose=False)
    assert cfg.data.source == "folder" and cfg.data.folder == "/content/drive/MyDrive/my frames.zip"
