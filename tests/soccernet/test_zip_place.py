"""Where the downloaded zips are kept: on Colab's Drive when they fit its free space (a new session
then only extracts them), else on the runtime's disk with what a new session downloads again.

Colab is the fake ``google.colab`` (Drive is a temporary folder), Drive's free space is what
``shutil.disk_usage`` is made to say, and the Hub download is replaced by the synthetic generator
writing the same zips, so the data step's messages are those a user reads."""

from __future__ import annotations

import shutil
from collections import namedtuple
from pathlib import Path

import pytest

from colab_utils import runtime
from colab_utils.calibration.synthetic import generate_calibration_dataset
from colab_utils.config import load_config
from colab_utils.pipeline import prepare_data
from colab_utils.soccernet import splits, zip_place

Usage = namedtuple("Usage", "total used free")


@pytest.fixture
def drive_free(monkeypatch):
    """Set the free space Drive reports, in GB."""

    def set_free(gb: float) -> None:
        usage = Usage(15e9, 15e9 - gb * 1e9, gb * 1e9)
        monkeypatch.setattr(zip_place.shutil, "disk_usage", lambda path: usage)

    return set_free


@pytest.fixture
def hub(monkeypatch):
    """The Hub's calibration-2023 zips, written by the synthetic generator; records what it downloads."""
    downloads: list[str] = []

    def download(task, wanted, zip_dir, password):
        task_dir = Path(zip_dir) / task
        missing = {s: 4 for s in wanted if not (task_dir / f"{s}.zip").is_file()}
        if missing:
            generate_calibration_dataset(Path(zip_dir), splits=missing, seed=0, width=320, height=180)
            downloads.extend(f"{task_dir / s}.zip" for s in missing)
        return {s: task_dir / f"{s}.zip" for s in wanted}, [f"{s}.zip" for s in missing]

    monkeypatch.setattr(splits, "download_reporting", download)
    return downloads


def calibration_config(*overrides: str):
    rt = runtime.setup(profile="cpu", verbose=False)
    return load_config("homography", "cpu", ["data.source=soccernet", *overrides], runtime=rt, verbose=False)


def test_in_colab_zips_that_fit_drive_are_kept_there_and_a_new_session_downloads_nothing(
    fake_colab, drive_free, hub, capsys
):
    drive_free(12.0)
    cfg = calibration_config()
    prepare_data(cfg)
    first = capsys.readouterr().out
    on_drive = Path(cfg.run.dir).parent.parent / "zips" / "calibration-2023"
    assert "Keeping the calibration-2023 zips (3.0 GB, about 1 min to download" in first
    assert "a new session extracts them again instead of downloading them" in first
    assert hub == [str(on_drive / "train.zip"), str(on_drive / "valid.zip")]

    shutil.rmtree(cfg.run.data_dir)  # a new session: Colab gives an empty disk, Drive keeps its files
    prepare_data(calibration_config())
    later = capsys.readouterr().out
    assert "zips are kept on Drive" in later and "nothing to download" in later
    assert len(hub) == 2  # nothing downloaded again
    assert later.count("pairs") == first.count("pairs") == 2  # each split's summary printed once


def test_zips_that_do_not_fit_drive_say_the_download_time_and_the_space_keeping_them_needs(
    fake_colab, drive_free, hub, capsys
):
    drive_free(10.0)
    cfg = calibration_config("data.zips_gb=14.4")  # reid's size
    prepare_data(cfg)
    said = capsys.readouterr().out
    assert "(14.4 GB, about 6 min to download at 40 MB/s) stay on the runtime's disk" in said
    assert "every new session downloads them again" in said
    assert "Drive has 10.0 GB free; keeping them there needs 18.4 GB free" in said
    assert "data.zips_on_drive=true" in said
    assert all(Path(path).is_relative_to(runtime.COLAB_DATA_DIR) for path in hub)
    assert said.count("every new session downloads") == 1  # said once


def test_zips_on_drive_true_and_false_are_obeyed(fake_colab, drive_free, hub, capsys):
    drive_free(1.0)
    forced = calibration_config("data.zips_on_drive=true")
    prepare_data(forced)
    assert "(data.zips_on_drive=true)" in capsys.readouterr().out
    assert Path(hub[0]).is_relative_to(Path(forced.run.dir).parent.parent / "zips")
    local = calibration_config("data.zips_on_drive=false", "run.data_dir=" + str(fake_colab.root / "other"))
    prepare_data(local)
    assert "every new Colab session downloads them again" in capsys.readouterr().out
    assert Path(hub[-1]).is_relative_to(fake_colab.root / "other")


def test_off_colab_the_zips_stay_on_this_machines_disk(folders, hub, capsys):
    cfg = calibration_config()
    prepare_data(cfg)
    assert "this machine's disk keeps them for the next run" in capsys.readouterr().out
    assert all(Path(path).is_relative_to(folders["data"]) for path in hub)
