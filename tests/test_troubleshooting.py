"""What the library says in the README's troubleshooting cases: a CPU-only Colab runtime, Drive
failing under training (Errno 107) or not finishing an upload, and a data loader that holds
training back. Drive errors and slow loading are injected; Colab is the fake of conftest.py."""

from __future__ import annotations

import csv
import errno
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS
from omegaconf import OmegaConf
from toy_model.task import ToyDataset

from colab_utils import runtime
from colab_utils.config import load_config
from colab_utils.engine import checkpoint
from colab_utils.engine.callbacks import BatchEnd, EpochEnd, loader_wait
from colab_utils.engine.callbacks.history import History
from colab_utils.engine.callbacks.loader_wait import LoaderWait
from colab_utils.engine.checkpoint import CheckpointStore
from colab_utils.engine.drive_errors import DriveStoppedAnswering
from colab_utils.engine.trainer import timed
from colab_utils.pipeline import train

FAST = ("data.num_workers=0", "logging.progress=false")
ENOTCONN = "[Errno 107] Transport endpoint is not connected"


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def colab_config(fake_colab, monkeypatch):
    """``colab_config(*overrides)`` -> (toy config, runtime) in the fake Colab, run folder on its Drive."""
    # a VM that just started: the whole session budget is left
    monkeypatch.setattr(runtime, "runtime_started_at", time.time)

    def make(*overrides: str):
        rt = runtime.setup(profile="cpu", verbose=False)
        cfg = load_config("toy", "cpu", [*FAST, *overrides], runtime=rt, config_dir=CONFIGS, verbose=False)
        return cfg, rt

    return make


def failing(real, error_number: int, calls: set[int]):
    """``real`` that raises the Drive error ``error_number`` on the given call numbers (1-based);
    ``wrapper.done`` lists the arguments of the calls that went through."""
    count = 0

    def wrapper(*args, **kwargs):
        nonlocal count
        count += 1
        if count in calls:
            raise OSError(error_number, "Transport endpoint is not connected" if error_number == 107 else "x")
        wrapper.done.append(args)
        return real(*args, **kwargs)

    wrapper.done = []
    return wrapper


def record_remounts(monkeypatch, fake_colab) -> list[bool]:
    drive = sys.modules["google.colab.drive"]
    mount, forced = drive.mount, []

    def recording(mountpoint: str, force_remount: bool = False) -> None:
        forced.append(force_remount)
        mount(mountpoint, force_remount=force_remount)

    monkeypatch.setattr(drive, "mount", recording)
    return forced


def test_a_colab_runtime_without_gpu_refuses_auto_and_says_how_to_get_one(fake_colab):
    with pytest.raises(runtime.NoGPURuntime) as error:
        runtime.setup()
    text = str(error.value)
    assert isinstance(error.value, RuntimeError) and "no GPU" in text
    assert "Runtime > Change runtime type > T4 GPU" in text and "Runtime > Run all" in text
    assert 'PROFILE = "cpu"' in text and "usage limits" in text
    assert fake_colab.mount_calls == []  # stopped before the Drive permission dialog
    for profile in ("cpu", "smoke"):  # named on purpose: the CPU run goes ahead
        assert runtime.setup(profile=profile, verbose=False).profile == profile


def test_drive_errors_remount_once_and_the_write_is_retried(colab_config, fake_colab, monkeypatch, capsys):
    cfg, rt = colab_config("train.epochs=2")
    forced = record_remounts(monkeypatch, fake_colab)
    # the 2nd checkpoint write hits a dead Drive mount, the 1st metrics.csv write a flaky one
    writer = failing(checkpoint.write_checkpoint, errno.ENOTCONN, {2})
    monkeypatch.setattr(checkpoint, "write_checkpoint", writer)
    monkeypatch.setattr(History, "_write", failing(History._write, errno.EIO, {1}))
    result = train(cfg, rt)
    out = capsys.readouterr().out
    assert result.status == "finished" and forced == [True, True]
    assert (
        f"Google Drive stopped answering while writing the checkpoint step-000000010.pth ({ENOTCONN})" in out
    )
    assert "Remounting Drive" in out
    assert writer.done[1][1].name == "step-000000010.pth"  # written on the retry
    with open(Path(cfg.run.dir) / "metrics.csv") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["1", "2"]  # the retried row is there once


def test_a_drive_that_stays_down_stops_training_and_the_next_start_resumes(
    colab_config, fake_colab, monkeypatch
):
    cfg, rt = colab_config("train.epochs=1")
    forced = record_remounts(monkeypatch, fake_colab)
    write = checkpoint.write_checkpoint
    monkeypatch.setattr(checkpoint, "write_checkpoint", failing(write, errno.ENOTCONN, {2, 3}))
    with pytest.raises(DriveStoppedAnswering) as error:
        train(cfg, rt)
    text = str(error.value)
    assert f"{ENOTCONN} (also after remounting Drive). Training stopped." in text
    assert "The last checkpoint written before, step-000000005.pth, is kept" in text
    assert "Runtime > Restart session" in text and "training resumes from step-000000005.pth" in text
    assert "COLAB_UTILS_DRIVE" in text and forced == [True]
    monkeypatch.setattr(checkpoint, "write_checkpoint", write)  # Drive is back after the restart
    result = train(cfg, rt)
    assert result.resumed_from.name == "step-000000005.pth" and result.status == "finished"


def test_a_checkpoint_that_did_not_reach_drive_is_named_on_resume(tmp_path, monkeypatch):
    store = CheckpointStore(tmp_path / "drive" / "MyDrive" / "run" / "checkpoints")
    store.save({"w": torch.zeros(3)}, 1)
    newest = store.save({"w": torch.ones(3)}, 2)
    newest.write_bytes(newest.read_bytes()[:100])  # the part Drive uploaded before the runtime died
    message = (
        r"Skipping damaged checkpoint step-000000002.pth \(.*\): it did not finish reaching Drive before "
        r"the runtime stopped .* Kept as step-000000002.pth.corrupt; resuming from step-000000001.pth."
    )
    with pytest.warns(UserWarning, match=message):
        assert store.newest_valid().path.name == "step-000000001.pth"
    # a Drive that stops answering while reading is not damage: the error shows, the file stays
    monkeypatch.setattr(checkpoint, "read_checkpoint", failing(checkpoint.read_checkpoint, errno.EIO, {1}))
    with pytest.raises(OSError):
        store.newest_valid()
    assert [p.name for p in store.step_files()] == ["step-000000001.pth"]


def test_a_time_budget_stop_in_colab_flushes_and_says_to_stay_connected(colab_config, monkeypatch, capsys):
    cfg, rt = colab_config("run.time_budget_h=0.01")
    synced = []
    monkeypatch.setattr("os.sync", lambda: synced.append(True))
    assert train(cfg, rt).status == "time_budget"
    out = capsys.readouterr().out
    assert "keep this runtime connected for a minute" in out and synced == [True]


def slow_items(count: int, seconds: float):
    for item in range(count):
        time.sleep(seconds)
        yield item


def train_one_epoch(watch: LoaderWait, items, step_s: float) -> None:
    """What the training loop hands the callback: each batch's wait for data and the whole step."""
    watch.on_epoch_start(None)
    tick = time.perf_counter()
    for _, waited in timed(items):
        time.sleep(step_s)
        now = time.perf_counter()
        watch.on_batch_end(None, BatchEnd(loss=0.0, data_wait_s=waited, step_s=now - tick))
        tick = now
    watch.on_epoch_end(None, EpochEnd(row={"epoch": 1}, improved=False))


def test_the_loader_wait_is_reported_only_when_it_holds_training_back(monkeypatch, capsys):
    monkeypatch.setattr(loader_wait, "EARLY_BATCHES", 5)
    monkeypatch.setattr(loader_wait, "MIN_WAIT_S", 0.05)
    cfg = OmegaConf.create({"run": {"data_dir": "/content/data"}, "data": {"num_workers": 0}})
    train_one_epoch(LoaderWait(cfg), slow_items(12, 0.02), step_s=0)  # all of the time is waiting
    out = capsys.readouterr().out
    assert out.count("The data loader is the bottleneck: ") == 1  # explained once, after 5 batches
    assert "still the bottleneck" in out and "of epoch 1 went to waiting for data" in out
    train_one_epoch(LoaderWait(cfg), slow_items(12, 0), step_s=0.02)  # the step is the slow part
    assert "bottleneck" not in capsys.readouterr().out


def test_a_slow_loader_in_training_names_the_data_folder_and_workers(folders, monkeypatch, capsys):
    monkeypatch.setattr(loader_wait, "EARLY_BATCHES", 8)
    monkeypatch.setattr(loader_wait, "MIN_WAIT_S", 0.1)
    get = ToyDataset.get

    def slow_get(self, index, rng):  # reading each sample takes a while (Drive, big images)
        time.sleep(0.003)
        return get(self, index, rng)

    monkeypatch.setattr(ToyDataset, "get", slow_get)
    on_drive = folders["tmp"] / "MyDrive" / "data"
    cfg = load_config(
        "toy",
        "cpu",
        [*FAST, "train.epochs=1", "checkpoint.every_steps=null", f"run.data_dir={on_drive}"],
        config_dir=CONFIGS,
        verbose=False,
    )
    train(cfg)
    out = capsys.readouterr().out
    assert f"The data folder {on_drive} (run.data_dir) is on Google Drive" in out
    assert "The data loader is the bottleneck: " in out and "of the first 8 training steps" in out
    assert f"run.data_dir is {on_drive} (on Google Drive)" in out and "data.num_workers is 0 and" in out
