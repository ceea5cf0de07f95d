"""``data.source=folder``: the user's own frames, a folder or a zip, local or on Google Drive.

Every vision model reads a user folder the same way, and only what a split's files look like is
the model's business (its ``folder`` module):

1. **Staging**: a zip is extracted once to the runtime's local disk (``run.data_dir/folder/``)
   by the safe extraction the SoccerNet zips go through, and reused while the zip's name, size
   and modification time stay the same; a folder on Drive is copied to local disk (reading
   thousands of small files from Drive is slow; files already copied are kept); a local folder
   is read where it is.
2. **Splits**: ``train/`` and ``valid/`` (or the config's split names) when the folder has them;
   else the model holds out whole groups (clips, matches, identities) by :func:`colab_utils.holdout.hold_out`.
3. **Views**: each split becomes a folder of symbolic links laid out as the model's SoccerNet
   split is, so the SoccerNet verification, counted skips and manifest apply unchanged. They are
   rebuilt, and verified again, only when the user's files or the settings that shape them change.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from colab_utils.config import ConfigError
from colab_utils.errors import DataError, DataNotPrepared
from colab_utils.files import write_atomically
from colab_utils.runtime import on_google_drive
from colab_utils.soccernet.archives import extract_zip
from colab_utils.soccernet.verify import Verified

TRAIN_NAMES = ("train",)
VALID_NAMES = ("valid", "val", "validation")
_IGNORED = ("__MACOSX",)


@dataclass(frozen=True)
class Staged:
    """Where the user's files can be read from local disk, and the local folder for views."""

    data: Path
    root: Path
    note: str


def user_folder(cfg: DictConfig) -> Path:
    """``data.folder`` as an existing path; ConfigError / DataError saying what to set."""
    folder = cfg.data.get("folder")
    if not folder:
        raise ConfigError(
            "data.source=folder needs data.folder: the path of your folder or .zip "
            "(in a notebook: DATA_FOLDER = '/content/drive/MyDrive/my_frames.zip')."
        )
    path = Path(str(folder)).expanduser()
    if not path.exists():
        where = " Is Drive mounted (the notebook's first cell mounts it)?" if on_google_drive(path) else ""
        raise DataError(f"data.folder={str(folder)!r} does not exist.{where} Check the path and spelling.")
    if path.is_file() and path.suffix.lower() != ".zip":
        raise DataError(f"data.folder={str(folder)!r} is a file but not a .zip: give a folder or a .zip.")
    return path


def folder_root(cfg: DictConfig) -> Path:
    """The local folder for this ``data.folder``: a zip's key is its path, size and modification
    time, so a changed zip is extracted afresh and an unchanged one never again."""
    path = user_folder(cfg).absolute()
    key = str(path)
    if path.is_file():
        info = path.stat()
        key += f"|{info.st_size}|{info.st_mtime_ns}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem)[:40]
    return Path(cfg.run.data_dir) / "folder" / f"{slug}-{digest}"


def stage(cfg: DictConfig, layouts: str) -> Staged:
    """Make the user's files readable from local disk: extract a zip once, copy a Drive folder.

    ``layouts`` names the formats the model reads, for the error an empty folder gets.
    """
    source, root = user_folder(cfg), folder_root(cfg)
    if on_google_drive(root):
        raise DataError(
            f"run.data_dir is on Drive ({root}): the user folder must be extracted to the runtime's local "
            "disk (e.g. /content/data), reading thousands of small files from Drive is very slow."
        )
    if source.is_file():
        marker = root / ".extracted"
        if marker.is_file():
            note = f"{source.name}: extracted earlier to {root / 'data'}, reused (nothing extracted)"
        else:
            report = extract_zip(source, root, split="data")
            marker.touch()
            note = f"{source.name}: {report.extracted} files extracted to {root / 'data'} (once, then reused)"
        data = root / "data"
    elif on_google_drive(source):
        copied, kept = _copy_tree(source, root / "data")
        note = f"{source}: {copied} files copied from Drive to {root / 'data'}, {kept} already there"
        data = root / "data"
    else:
        data, note = source, f"{source}: read in place"
    data = _unwrap(data)
    if not any(_files(data)):
        raise DataError(f"data.folder={str(cfg.data.folder)!r} holds no files: {expected(layouts)}")
    return Staged(data, root, note)


def expected(layouts: str) -> str:
    """What to give instead, for the errors of a folder in a layout the model does not read."""
    return f"expected {layouts} (the README's 'Fine-tune on your own frames' shows each)."


def _copy_tree(source: Path, target: Path) -> tuple[int, int]:
    """Copy the files missing in ``target`` or of another size; (copied, already there)."""
    copied = kept = 0
    for path in _files(source):
        destination = target / path.relative_to(source)
        if destination.is_file() and destination.stat().st_size == path.stat().st_size:
            kept += 1
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(f".{destination.name}.partial")
        shutil.copyfile(path, partial)
        os.replace(partial, destination)
        copied += 1
    return copied, kept


def _visible(path: Path) -> bool:
    return not path.name.startswith(".") and path.name not in _IGNORED


def _unwrap(folder: Path) -> Path:
    """Step into a lone wrapping folder (``my_frames/`` inside ``export.zip``)."""
    while True:
        entries = [p for p in folder.iterdir() if _visible(p)]
        if len(entries) != 1 or not entries[0].is_dir():
            return folder
        folder = entries[0]


def _files(folder: Path) -> Iterable[Path]:
    """The visible files under ``folder``, sorted, links followed."""
    for directory, subdirs, names in os.walk(folder, followlinks=True):
        subdirs[:] = sorted(d for d in subdirs if _visible(Path(d)))
        for name in sorted(names):
            if _visible(Path(name)):
                yield Path(directory) / name


def files(folder: Path) -> list[Path]:
    """The visible files under ``folder`` (hidden files and ``__MACOSX`` left out), sorted."""
    return list(_files(folder))


def split_folders(data: Path, cfg: DictConfig) -> tuple[Path, Path | None]:
    """(training files, validation files or None): the folder's own ``train/`` and ``valid/`` (or
    the config's split names) when it has them, else the whole folder and no validation split."""

    def first(names: Sequence[str]) -> Path | None:
        return next((data / n for n in dict.fromkeys(names) if (data / n).is_dir()), None)

    train = first([str(cfg.data.train_split), *TRAIN_NAMES])
    valid = first([str(cfg.data.val_split), *VALID_NAMES])
    if train is not None and valid is not None and train != valid:
        return train, valid
    return (train or data), None


def link(source: Path, view: Path) -> None:
    """Put ``source`` into a split view as a symbolic link (nothing is copied)."""
    view.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(source.absolute(), view)


def safe_name(text: str) -> str:
    """A string usable as one file-name part (no separators, no dashes: reid splits names on them)."""
    return re.sub(r"[^A-Za-z0-9_.]+", "_", text).strip("_") or "_"


def fingerprint(data: Path, *settings: object) -> str:
    """What the views depend on: every file's path, size and time under ``data``, and ``settings``."""
    digest = hashlib.sha1(repr(settings).encode())
    for path in _files(data):
        info = path.stat()
        digest.update(f"{path.relative_to(data)}|{info.st_size}|{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def prepare_views(
    staged: Staged,
    task_dir_name: str,
    splits: Sequence[str],
    key: str,
    build: Callable[[Path], str],
    verify: Callable[[Path], Verified],
    load_verified: Callable[[Path], Verified],
) -> str:
    """Build the split views with ``build(task_dir)`` (it returns how it split), then verify each.

    While ``key`` (a :func:`fingerprint`) is unchanged, the views and their manifests are reused:
    nothing is linked or decoded again. Returns the data step's summary: where the files were
    read, how they were split, and each split's verification.
    """
    task_dir = staged.root / task_dir_name
    stamp = task_dir / ".views"
    if stamp.is_file():
        saved_key, _, note = stamp.read_text().partition("\n")
        if saved_key == key:
            try:
                verified = [load_verified(task_dir / split) for split in splits]
                return "\n".join([staged.note, note + " (as before)", *(v.summary for v in verified)])
            except (FileNotFoundError, DataNotPrepared):
                pass
    if task_dir.exists():
        shutil.rmtree(task_dir)
    task_dir.mkdir(parents=True)
    note = build(task_dir)
    verified = [verify(task_dir / split) for split in splits]
    write_atomically(stamp, f"{key}\n{note}")
    return "\n".join([staged.note, note, *(v.summary for v in verified)])
