"""Safe, resumable extraction of dataset zips.

Zips come from the network and Colab runtimes die without warning, so extraction must
never write outside its target (a crafted or broken member name is refused before anything
is written), must say plainly when the archive itself is damaged and how to get a good one,
and must pick up where a killed run stopped: a member already extracted with the right size
is kept, and every file is written under a temporary name and renamed, so a file that has
its final name is always complete.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from colab_utils.errors import UserError

COPY_CHUNK = 1 << 20
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")


class UnsafeArchiveError(UserError, ValueError):
    """A member would land outside the target folder (absolute path, ``..``, symlink)."""


class CorruptArchiveError(UserError, RuntimeError):
    """The zip is truncated or its bytes are damaged; the fix is to download it again."""


@dataclass(frozen=True)
class ExtractReport:
    archive: Path
    split_dir: Path
    extracted: int
    reused: int

    def summary(self) -> str:
        return f"{self.archive.name}: {self.extracted} files extracted, {self.reused} already in place"


def extract_zip(zip_path: Path, target_dir: Path, split: str | None = None) -> ExtractReport:
    """Extract ``zip_path`` into ``target_dir/<split>/``, whether or not its entries sit under ``<split>/``.

    ``split`` defaults to the zip's name without ``.zip``. Re-running after an interruption only
    writes the files that are missing or have the wrong size.
    """
    zip_path, target_dir = Path(zip_path), Path(target_dir)
    split = split or zip_path.stem
    with _open_zip(zip_path) as archive:
        members = archive.infolist()
        _refuse_unsafe_members(members, zip_path, target_dir)
        prefix = _split_prefix(members, split, zip_path.stem)
        extracted = reused = 0
        for info in members:
            destination = target_dir / split / PurePosixPath(info.filename[len(prefix) :])
            if info.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
            elif destination.is_file() and destination.stat().st_size == info.file_size:
                reused += 1
            else:
                _extract_member(archive, info, destination, zip_path)
                extracted += 1
    return ExtractReport(zip_path, target_dir / split, extracted, reused)


def check_zip(zip_path: Path) -> str | None:
    """Why ``zip_path`` is not a usable zip (empty, truncated, no central directory), or None.

    Cheap: it reads the zip's directory only, which is where a cut download or a half-synced
    copy breaks; damage inside a member is caught by :func:`extract_zip` as it reads.
    """
    try:
        if Path(zip_path).stat().st_size == 0:
            return "the file is empty"
        with zipfile.ZipFile(zip_path) as archive:
            if not archive.infolist():
                return "the zip has no entries"
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        return str(err) or type(err).__name__
    return None


def _open_zip(zip_path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, EOFError) as err:
        raise CorruptArchiveError(_damaged_message(zip_path, str(err))) from err


def _damaged_message(zip_path: Path, reason: str) -> str:
    return (
        f"{zip_path} is damaged ({reason}); it was probably cut short while downloading or syncing. "
        f"Delete it (rm '{zip_path}') and run this cell again to download it afresh; "
        "files already extracted are kept."
    )


def _refuse_unsafe_members(members: list[zipfile.ZipInfo], zip_path: Path, target_dir: Path) -> None:
    """Raise before any write if a single member could escape ``target_dir``."""
    root = target_dir.resolve()
    unsafe = []
    for info in members:
        name = info.filename
        is_link = stat.S_ISLNK(info.external_attr >> 16)
        absolute = name.startswith(("/", "\\")) or _WINDOWS_DRIVE.match(name)
        climbs = ".." in re.split(r"[/\\]", name)
        if is_link or absolute or climbs or not (root / name).resolve().is_relative_to(root):
            unsafe.append(f"{name!r} ({'symbolic link' if is_link else 'path outside the target'})")
    if unsafe:
        shown = ", ".join(unsafe[:5]) + (f" and {len(unsafe) - 5} more" if len(unsafe) > 5 else "")
        raise UnsafeArchiveError(
            f"Refusing to extract {zip_path}: {len(unsafe)} member(s) would be written outside "
            f"{target_dir}: {shown}. Nothing was extracted. SoccerNet's zips never contain such "
            "entries: delete this file and download it again from the official source."
        )


def _split_prefix(members: list[zipfile.ZipInfo], split: str, stem: str) -> str:
    """The top folder to strip: ``<split>/`` (or ``<zip name>/``) when every entry is inside it."""
    for folder in dict.fromkeys((split, stem)):
        prefix = folder + "/"
        if all(info.filename.startswith(prefix) or info.filename == prefix for info in members):
            return prefix
    return ""


def _extract_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path, zip_path: Path
) -> None:
    """Write one member under a temporary name, then rename it: a killed run never leaves a short file."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.partial")
    try:
        with archive.open(info) as source, open(partial, "wb") as sink:
            shutil.copyfileobj(source, sink, COPY_CHUNK)
        os.replace(partial, destination)
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        partial.unlink(missing_ok=True)
        raise CorruptArchiveError(_damaged_message(zip_path, f"{err} in member {info.filename!r}")) from err
