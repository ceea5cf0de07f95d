"""data.source=folder for the calibration models: the user's own SoccerNet calibration pairs,
as a zip on "Drive" or a local folder, with a corrupt file and an unknown class, trained and
evaluated; the zip is extracted once; a folder without valid/ is held out by sub-folder."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from colab_utils.calibration import source as calibration_source
from colab_utils.calibration.synthetic import generate_calibration_dataset
from colab_utils.config import ConfigError, load_config
from colab_utils.errors import DataError
from colab_utils.pipeline import evaluate, prepare_data, train
from colab_utils.soccernet import archives


def _pairs(tmp: Path, count: int) -> list[tuple[bytes, bytes]]:
    """``count`` real-format (JPEG, JSON) pairs at 320x180, from the synthetic generator's zip."""
    made = generate_calibration_dataset(tmp / "generated", {"train": count}, seed=3, width=320, height=180)
    with zipfile.ZipFile(made.zips["train"]) as archive:
        names = sorted(n for n in archive.namelist() if n.endswith(".jpg"))
        return [(archive.read(n), archive.read(n[:-4] + ".json")) for n in names]


def user_folder(tmp: Path) -> Path:
    """Two matches of four frames in sub-folders, plus a truncated JPEG, malformed JSON and an
    annotation with a class SoccerNet's pitch model does not have."""
    folder = tmp / "my_frames"
    pairs = _pairs(tmp, 8)
    for index, (jpeg, annotation) in enumerate(pairs):
        match = folder / ("match_a" if index < 4 else "match_b")
        match.mkdir(parents=True, exist_ok=True)
        (match / f"{index:05d}.jpg").write_bytes(jpeg)
        (match / f"{index:05d}.json").write_bytes(annotation)
    jpeg, annotation = pairs[0]
    (folder / "match_a" / "00100.jpg").write_bytes(jpeg[: len(jpeg) // 2])  # truncated
    (folder / "match_a" / "00100.json").write_bytes(annotation)
    (folder / "match_b" / "00101.jpg").write_bytes(jpeg)
    (folder / "match_b" / "00101.json").write_text('{"Side line top": [{"x": 0.1, ')  # malformed
    unknown = json.loads(annotation) | {"Penalty spot": [{"x": 0.5, "y": 0.5}]}
    (folder / "match_b" / "00102.jpg").write_bytes(jpeg)
    (folder / "match_b" / "00102.json").write_text(json.dumps(unknown))
    return folder


def _zip(folder: Path, zip_path: Path) -> Path:
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    return Path(shutil.make_archive(str(zip_path.with_suffix("")), "zip", folder.parent, folder.name))


def _cfg(model: str, folder: Path, *overrides: str):
    return load_config(
        model,
        "smoke",
        [
            "data.source=folder",
            f"data.folder={folder}",
            "data.num_workers=0",
            "logging.progress=false",
            *overrides,
        ],
        verbose=False,
    )


def test_a_zip_on_drive_trains_and_evaluates_its_bad_files_counted_and_is_extracted_once(
    folders, monkeypatch, capsys
):
    zip_path = _zip(user_folder(folders["tmp"]), folders["drive"] / "MyDrive" / "my_frames.zip")
    cfg = _cfg("homography", zip_path, "train.epochs=1")
    extractions = []
    real_extract = archives.extract_zip
    monkeypatch.setattr(
        "colab_utils.user_folder.extract_zip", lambda *a, **k: extractions.append(a) or real_extract(*a, **k)
    )
    summary = prepare_data(cfg)
    assert len(extractions) == 1
    assert Path(cfg.run.data_dir) in calibration_source.source_root(cfg).parents  # local disk, not Drive
    assert "held out 1 of 2 sub-folders" in summary
    train_line = next(line for line in summary.splitlines() if line.startswith("train:"))
    valid_line = next(line for line in summary.splitlines() if line.startswith("valid:"))
    # one match of 4 frames each side; the bad files are counted where their match went
    assert "4 pairs" in train_line and "4 pairs" in valid_line
    assert "1 corrupt JSON skipped" in summary
    assert "1 JSON with unknown classes skipped" in summary and "'Penalty spot' x1" in summary
    assert "1 unreadable image(s) skipped" in summary
    train_frames = {p.name for p, _ in calibration_source.verified_split(cfg, "train").pairs}
    valid_frames = {p.name for p, _ in calibration_source.verified_split(cfg, "valid").pairs}
    matches = [{name.split("__")[0] for name in frames} for frames in (train_frames, valid_frames)]
    assert matches[0].isdisjoint(matches[1])

    again = prepare_data(cfg)
    assert len(extractions) == 1  # the same zip: extracted once, reused
    assert "reused (nothing extracted)" in again and "(as before)" in again

    result = train(cfg)
    assert result.epochs_done == 1 and result.global_step == 2  # 4 training frames, batches of 2
    report = evaluate(cfg)
    assert "val_pck@5" in report.metrics


def test_frames_without_sub_folders_or_a_valid_split_are_held_out_by_frame_and_say_so(folders):
    folder = folders["tmp"] / "flat"
    folder.mkdir()
    for index, (jpeg, annotation) in enumerate(_pairs(folders["tmp"], 5)):
        (folder / f"{index:05d}.jpg").write_bytes(jpeg)
        (folder / f"{index:05d}.json").write_bytes(annotation)
    summary = prepare_data(_cfg("sportlight_hrnet57", folder))
    assert "held out 1 of 5 frames" in summary and "optimistic" in summary
    assert "train: 4 pairs" in summary and "valid: 1 pairs" in summary


def test_train_and_valid_folders_are_used_as_given(folders):
    folder = folders["tmp"] / "given"
    pairs = _pairs(folders["tmp"], 3)
    for split, chosen in (("train", pairs[:2]), ("valid", pairs[2:])):
        (folder / split).mkdir(parents=True)
        for index, (jpeg, annotation) in enumerate(chosen):
            (folder / split / f"{index:05d}.jpg").write_bytes(jpeg)
            (folder / split / f"{index:05d}.json").write_bytes(annotation)
    summary = prepare_data(_cfg("homography", folder))
    assert "Validation: valid/ of data.folder" in summary
    assert "train: 2 pairs" in summary and "valid: 1 pairs" in summary


def test_missing_empty_and_wrong_folders_say_what_to_do(folders):
    with pytest.raises(ConfigError, match=r"needs data\.folder"):
        prepare_data(_cfg("homography", "null"))
    with pytest.raises(DataError, match="does not exist"):
        prepare_data(_cfg("homography", folders["tmp"] / "nowhere"))
    (folders["tmp"] / "empty").mkdir()
    with pytest.raises(DataError, match="holds no files"):
        prepare_data(_cfg("homography", folders["tmp"] / "empty"))
    (folders["tmp"] / "videos").mkdir()
    (folders["tmp"] / "videos" / "match.mp4").write_bytes(b"\0" * 10)
    with pytest.raises(DataError, match="SoccerNet calibration pairs"):
        prepare_data(_cfg("homography", folders["tmp"] / "videos"))
    with pytest.raises(DataError, match="soccernet, synthetic, folder"):
        prepare_data(load_config("homography", "smoke", ["data.source=my_drive"], verbose=False))
