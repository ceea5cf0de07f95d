"""``data.source=folder`` for the calibration models: your frames as SoccerNet calibration pairs.

A frame is ``<name>.jpg`` (or ``.png``, any size) with ``<name>.json`` beside it, the lines and
points dict calibration-2023 uses; frames may sit in sub-folders. Each split becomes a flat view
of links (``match1/00001.jpg`` -> ``match1__00001.jpg``) that the calibration-2023 verification
reads as it reads SoccerNet's split, so the same skips are counted and the same manifest written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from omegaconf import DictConfig

from colab_utils.calibration.annotations import (
    CALIBRATION_TASK,
    IMAGE_SUFFIXES,
    load_verified_split,
    verify_calibration_split,
    write_verified_manifest,
)
from colab_utils.errors import DataError
from colab_utils.holdout import hold_out
from colab_utils.user_folder import (
    expected,
    files,
    fingerprint,
    link,
    prepare_views,
    split_folders,
    stage,
)

LAYOUTS = (
    "SoccerNet calibration pairs: <frame>.jpg (or .png) with <frame>.json beside it (the lines and points "
    "dict of calibration-2023), in sub-folders or not, optionally under train/ and valid/"
)
_PREFIX = re.compile(r"^(.*?[A-Za-z].*?)[_-]*\d+$")  # "match1_00012" -> "match1"; "00012" -> no prefix


def _frame_files(folder: Path) -> dict[str, list[Path]]:
    """Each frame's image and JSON files under ``folder``, by path without suffix (``match1/00001``)."""
    frames: dict[str, list[Path]] = {}
    for path in files(folder):
        if path.suffix.lower() in (*IMAGE_SUFFIXES, ".json"):
            frames.setdefault(path.relative_to(folder).with_suffix("").as_posix(), []).append(path)
    return frames


def _groups(frames: Iterable[str]) -> tuple[dict[str, str], str]:
    """Each frame's hold-out group and what the groups are: its sub-folder, else its name's
    prefix (``match1_00012``), else the frame itself."""
    frames = sorted(frames)
    folders = {frame: frame.rpartition("/")[0] for frame in frames}
    if len(set(folders.values())) > 1:
        return folders, "sub-folders"
    prefixes = {frame: (_PREFIX.match(frame.rpartition("/")[2]) or [None, ""])[1] for frame in frames}
    if len(set(prefixes.values())) > 1:
        return prefixes, "frame-name prefixes"
    return {frame: frame for frame in frames}, "frames"


def _link_frames(frames: dict[str, list[Path]], view: Path) -> None:
    view.mkdir(parents=True, exist_ok=True)
    for frame, paths in frames.items():
        for path in paths:
            link(path, view / (frame.replace("/", "__") + path.suffix))


def prepare_folder(cfg: DictConfig) -> str:
    """The data step for ``data.source=folder``: stage, split, link and verify; its summary."""
    staged = stage(cfg, LAYOUTS)
    train_dir, valid_dir = split_folders(staged.data, cfg)
    train_split, val_split = str(cfg.data.train_split), str(cfg.data.val_split)
    splits = list(dict.fromkeys([train_split, val_split]))

    def build(task_dir: Path) -> str:
        train = _frame_files(train_dir)
        if not train:
            raise DataError(f"No image or JSON file in {train_dir}: {expected(LAYOUTS)}")
        if valid_dir is not None:
            valid, note = _frame_files(valid_dir), f"Validation: {valid_dir.name}/ of data.folder."
        elif val_split == train_split:
            valid, note = {}, "Validating on the training frames (data.val_split = data.train_split)."
        else:
            group_of, what = _groups(train)
            held, note = hold_out(group_of.values(), what)
            valid = {frame: paths for frame, paths in train.items() if group_of[frame] in held}
            train = {frame: paths for frame, paths in train.items() if group_of[frame] not in held}
            if what == "frames":
                note += (
                    " The frames have no sub-folders or name prefixes to hold out whole videos by, so "
                    "neighbouring frames of one video can fall in both splits: the validation score is "
                    "then optimistic; a valid/ folder of other matches gives an honest one."
                )
        _link_frames(train, task_dir / train_split)
        if val_split != train_split:
            _link_frames(valid, task_dir / val_split)
        return note

    key = fingerprint(staged.data, splits)
    return prepare_views(
        staged,
        CALIBRATION_TASK,
        splits,
        key,
        build,
        lambda split_dir: write_verified_manifest(verify_calibration_split(split_dir)),
        load_verified_split,
    )
