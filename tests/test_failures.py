"""Every known failure ends in a message, and no damaged file blocks a resume: real processes
(the CLI, SIGKILL, SIGINT), as a user's runtime meets them."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import torch
from conftest import CONFIGS, REPO, TESTS
from hub_server import HubServer, hub_environment

from colab_utils.engine.checkpoint import CheckpointStore, read_checkpoint, write_checkpoint

ARGS = ("train", "toy", "--config-dir", str(CONFIGS), "data.num_workers=2", "logging.progress=false")
CALIBRATION_REPO = "SoccerNet/SN-Calibration-2023"


def store(drive: Path, run: str) -> CheckpointStore:
    return CheckpointStore(drive / "colab_utils" / "toy" / run / "checkpoints")


def same_weights(a: dict, b: dict) -> bool:
    return a["progress"]["global_step"] == b["progress"]["global_step"] and all(
        torch.equal(a["model"][k], b["model"][k]) for k in a["model"]
    )


class LeavesAMark:
    """A pickled object whose loading would create a file: the side effect of a tampered checkpoint."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_checkpoint_holding_code_is_refused_set_aside_and_the_one_before_used(run_cli, folders):
    whole = run_cli(*ARGS, "run.name=whole")
    assert whole.returncode == 0, whole.stderr
    killed = run_cli(*ARGS, "run.name=x", env={"TOY_KILL_AT_BATCH": "17"})
    assert killed.returncode == -9
    newest, previous = store(folders["drive"], "x").step_files()[:2]
    payload = read_checkpoint(newest)
    mark = folders["tmp"] / "the payload ran"
    payload["extra"] = LeavesAMark(mark)
    write_checkpoint(payload, newest)  # a valid trailer over content a weights-only load refuses

    resumed = run_cli(*ARGS, "run.name=x")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{newest.name} was refused for safety" in resumed.stderr
    assert "weights_only=False" not in resumed.stdout + resumed.stderr
    assert f"Resuming from {previous.name}" in resumed.stdout
    assert not mark.exists()
    assert newest.with_name(newest.name + ".corrupt").exists()
    finished, expected = store(folders["drive"], "x"), store(folders["drive"], "whole")
    assert same_weights(finished.newest_valid().payload, expected.newest_valid().payload)


FULL_DISK = """
import errno, sys
import colab_utils.engine.checkpoint as checkpoint
from colab_utils.cli import main

written = checkpoint._HashingWriter.write
saves = []

def fills_the_disk(self, data):  # the disk fills up during the third checkpoint
    if self.length == 0:
        saves.append(1)
    if len(saves) >= 3 and self.length > 4096:
        raise OSError(errno.ENOSPC, "No space left on device")
    return written(self, data)

checkpoint._HashingWriter.write = fills_the_disk
sys.exit(main(sys.argv[1:]))
"""


def test_a_full_disk_stops_with_one_message_and_the_run_resumes_exactly_on_a_disk_with_room(
    run_cli, folders
):
    whole = run_cli(*ARGS, "run.name=whole")
    assert whole.returncode == 0, whole.stderr
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(REPO)])}
    command = [sys.executable, "-c", FULL_DISK, *ARGS, "run.name=x"]
    full = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert full.returncode == 2, full.stderr
    (line,) = [line for line in full.stderr.splitlines() if line.strip()]
    assert line.startswith("error: The disk holding ") and "is full" in line
    assert "step-000000005.pth, step-000000010.pth are intact" in line
    kept = store(folders["drive"], "x")
    assert [p.name for p in kept.step_files()] == ["step-000000010.pth", "step-000000005.pth"]
    assert not [p for p in kept.folder.iterdir() if ".tmp-" in p.name]

    resumed = run_cli(*ARGS, "run.name=x")
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming from step-000000010.pth" in resumed.stdout
    assert same_weights(kept.newest_valid().payload, store(folders["drive"], "whole").newest_valid().payload)


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_data_failures_reach_the_shell_as_one_error_line(folders, tmp_path):
    slip = zip_of({"train/00000.json": b"{}", "../evil.txt": b"outside"})
    damaged = bytearray(zip_of({"valid/00000.json": b"{}" * 500}))
    damaged[-30:] = b"\0" * 30  # the end of the central directory is gone
    env = {
        **hub_environment("", tmp_path / "hf_home"),
        "COLAB_UTILS_DRIVE": str(folders["drive"]),
        "COLAB_UTILS_DATA": str(folders["data"]),
    }
    for name, zips in (
        ("zip-slip", {"train.zip": slip, "valid.zip": zip_of({"valid/a.json": b"{}"})}),
        ("damaged", {"train.zip": zip_of({"train/a.json": b"{}"}), "valid.zip": bytes(damaged)}),
    ):
        with HubServer({CALIBRATION_REPO: zips}) as hub:
            done = subprocess.run(
                [sys.executable, "-m", "colab_utils", "prepare", "sportlight_hrnet57", "--profile", "cpu",
                 f"run.data_dir={tmp_path / name}"],
                env={**env, "HF_ENDPOINT": hub.endpoint, "PYTHONPATH": str(REPO)},
                capture_output=True, text=True, timeout=300,
            )
        errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
        assert done.returncode == 2 and len(errors) == 1, (name, done.stderr[-2000:])
        assert "Traceback" not in done.stderr, name
    assert not (tmp_path / "zip-slip" / "evil.txt").exists()


def test_one_stop_line_when_the_terminal_interrupts_the_whole_process_group(folders):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(REPO)]),
        "COLAB_UTILS_DRIVE": str(folders["drive"]),
        "COLAB_UTILS_DATA": str(folders["data"]),
    }
    command = textwrap.dedent(
        """
        import os, signal, sys, toy_model.task as toy
        from colab_utils.cli import main
        step = toy.ToyModel.train_step
        def train_step(self, batch, state=None):  # the user presses Ctrl-C in the terminal at batch 7
            self.seen = getattr(self, "seen", 0) + 1
            if self.seen == 7:
                os.killpg(os.getpgrp(), signal.SIGINT)
            return step(self, batch, state)
        toy.ToyModel.train_step = train_step
        sys.exit(main(sys.argv[1:]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", command, *ARGS, "run.name=x"],
        env=env, capture_output=True, text=True, timeout=300, start_new_session=True,
    )
    assert done.returncode == 130, done.stderr
    assert (done.stdout + done.stderr).count("Stop requested") == 1
    assert "Checkpoint saved at step 7" in done.stdout  # the batch finished, then it saved and stopped


def test_forced_resume_after_a_width_change_loads_what_fits_and_goes_on(run_cli, folders):
    assert run_cli(*ARGS, "run.name=x", "train.epochs=1").returncode == 0
    wider = run_cli(*ARGS, "run.name=x", "model.hidden=64")
    assert wider.returncode == 2 and "Traceback" not in wider.stderr
    assert "model.hidden: checkpoint 32, config 64" in wider.stderr and "run.resume=force" in wider.stderr
    forced = run_cli(*ARGS, "run.name=x", "model.hidden=64", "run.resume=force")
    assert forced.returncode == 0, forced.stderr
    assert "run.resume=force: loaded 1 of 4 tensors from step-000000012.pth" in forced.stdout
    assert "layers.0.weight (checkpoint [32, 8], model [64, 8])" in forced.stdout
    payload = store(folders["drive"], "x").newest_valid().payload
    assert payload["progress"]["global_step"] == 36 and payload["model"]["layers.0.weight"].shape == (64, 8)


def test_a_finished_run_says_where_it_ended(run_cli):
    assert run_cli(*ARGS, "run.name=x").returncode == 0
    again = run_cli(*ARGS, "run.name=x")
    assert again.returncode == 0, again.stderr
    assert "after epoch 3 of 3, step 36" in again.stdout and "epoch 4" not in again.stdout
    assert "This run is already complete (finished)" in again.stdout
