"""Crash-safe checkpoint files: atomic, checksummed, rotated, found again after a crash.

A file is ``torch.save`` output (loadable with ``weights_only=True``: tensors, numbers,
strings, lists, dicts, no pickled objects) followed by a 48-byte trailer: a magic tag, the
payload length and its SHA-256. ``torch.load`` ignores the trailer, so the files stay
ordinary checkpoints for anyone who opens them; our loader checks the trailer first, so a
zero-byte, truncated or bit-flipped file (what a runtime killed during a Drive sync
leaves) is detected before it is trusted.

Writes go to a temporary file in the same folder, are flushed and fsynced, and only then
renamed over the final name: a crash at any moment leaves either the old file or the new
one, never half of one.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import pickle
import re
import shutil
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from colab_utils.engine.drive_errors import is_drive_error
from colab_utils.errors import UserError
from colab_utils.runtime import on_google_drive

MAGIC = b"CUCKPT01"
TRAILER = struct.Struct("<8sQ32s")  # magic, payload length, sha256 digest
STEP_FILE = re.compile(r"^step-(\d{9})\.pth$")
BEST_FILE = "best.pth"
CHUNK = 8 << 20


class CorruptCheckpoint(Exception):
    """A checkpoint file that is missing its trailer or whose content does not match it."""


class UnsafeCheckpoint(CorruptCheckpoint):
    """A checkpoint whose checksum holds but whose content a weights-only load refuses: written by
    another tool, or changed. It is treated like a damaged one, never loaded by running code."""


class OutOfSpace(UserError, OSError):
    """A checkpoint did not fit on its disk; the files already there are intact."""


class _HashingWriter(io.RawIOBase):
    """A write-only file object that hashes and counts what passes through it."""

    def __init__(self, raw: io.BufferedWriter) -> None:
        self.raw = raw
        self.sha = hashlib.sha256()
        self.length = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.sha.update(view)
        self.length += view.nbytes
        return self.raw.write(view)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some filesystems (and Windows) cannot open folders; the rename still happened
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_checkpoint(payload: dict[str, Any], path: Path) -> int:
    """Atomically write ``payload`` to ``path``; returns the file size in bytes.

    Raises :class:`OutOfSpace` when the disk is full (or over quota), whatever torch wraps it in.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as raw:
            writer = _HashingWriter(raw)
            torch.save(payload, writer)
            raw.write(TRAILER.pack(MAGIC, writer.length, writer.sha.digest()))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if _is_out_of_space(error):
            raise OutOfSpace(out_of_space_message(path, payload)) from None
        raise
    _fsync_dir(path.parent)
    return writer.length + TRAILER.size


def _is_out_of_space(error: BaseException) -> bool:
    """ENOSPC or EDQUOT anywhere in the chain: torch.save reports a full disk as its own RuntimeError."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _payload_bytes(value: Any) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(_payload_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_payload_bytes(v) for v in value)
    return 0


def _size(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n} bytes"


def out_of_space_message(path: Path, payload: dict[str, Any]) -> str:
    """Which disk, how much it needed, what is kept, what to do."""
    folder = path.parent
    kept = sorted(p.name for p in folder.glob("*.pth"))
    if kept:
        intact = f"{', '.join(kept)} {'is' if len(kept) == 1 else 'are'} intact"
    else:
        intact = "no checkpoint was written before"
    if on_google_drive(folder):
        remedy = (
            "Free space in Google Drive (delete files, then empty its trash; the free plan has 15 GB) or "
            "keep fewer checkpoints (checkpoint.keep=1)"
        )
    else:
        remedy = "Free space on that disk, or keep the run folders elsewhere (set COLAB_UTILS_DRIVE)"
    return (
        f"The disk holding {folder} is full: {path.name} needed about {_size(_payload_bytes(payload))} "
        f"and {_size(shutil.disk_usage(folder).free)} were free. Training stopped; the half-written file "
        f"was removed and {intact}. {remedy}, then run again: training resumes from the newest checkpoint."
    )


def verify_checkpoint(path: Path) -> None:
    """Raise :class:`CorruptCheckpoint` unless the file's content matches its trailer."""
    size = path.stat().st_size
    if size < TRAILER.size:
        raise CorruptCheckpoint(f"{path.name} is {size} bytes: too short to be a checkpoint")
    with open(path, "rb") as f:
        f.seek(size - TRAILER.size)
        magic, length, digest = TRAILER.unpack(f.read(TRAILER.size))
        if magic != MAGIC:
            raise CorruptCheckpoint(f"{path.name} has no checkpoint trailer (truncated or not ours)")
        if length != size - TRAILER.size:
            raise CorruptCheckpoint(f"{path.name} is {size} bytes but its trailer promises {length + 48}")
        f.seek(0)
        sha = hashlib.sha256()
        remaining = length
        while remaining:
            block = f.read(min(CHUNK, remaining))
            if not block:
                raise CorruptCheckpoint(f"{path.name} ended early")
            sha.update(block)
            remaining -= len(block)
    if sha.digest() != digest:
        raise CorruptCheckpoint(f"{path.name} does not match its checksum (bit flip or partial write)")


def read_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Verify, then load without unpickling arbitrary objects."""
    verify_checkpoint(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        # torch's own message advises loading with weights_only=False, which would run the file's code
        raise UnsafeCheckpoint(
            f"{path.name} was refused for safety: it holds Python objects that a weights-only load does "
            "not accept, so this trainer did not write it as it is (another tool did, or it was changed)"
        ) from None


@dataclass(frozen=True)
class Found:
    """A checkpoint found on disk that passed verification."""

    path: Path
    payload: dict[str, Any]


class CheckpointStore:
    """The checkpoint folder of one run: ``step-<global step>.pth`` files plus ``best.pth``."""

    def __init__(self, folder: Path, keep: int = 2) -> None:
        if keep < 1:
            raise ValueError(f"checkpoint.keep must be at least 1, got {keep}")
        self.folder = Path(folder)
        self.keep = keep

    def step_files(self) -> list[Path]:
        """Step checkpoints, newest first."""
        if not self.folder.is_dir():
            return []
        found = [p for p in self.folder.iterdir() if STEP_FILE.match(p.name)]
        return sorted(found, key=lambda p: int(STEP_FILE.match(p.name)[1]), reverse=True)

    def save(self, payload: dict[str, Any], step: int) -> Path:
        """Write the checkpoint of ``step`` and drop the ones beyond the newest ``keep``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"step-{step:09d}.pth"
        write_checkpoint(payload, path)
        for old in self.step_files()[self.keep :]:
            old.unlink(missing_ok=True)
        return path

    def save_best(self, payload: dict[str, Any]) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / BEST_FILE
        write_checkpoint(payload, path)
        return path

    def remove_stale_temporaries(self) -> list[Path]:
        """Temporary files left by a writer that was killed; they are never complete."""
        if not self.folder.is_dir():
            return []
        stale = [p for p in self.folder.iterdir() if p.name.startswith(".") and ".tmp-" in p.name]
        for p in stale:
            p.unlink(missing_ok=True)
        return stale

    def newest_valid(self, map_location: str | torch.device = "cpu") -> Found | None:
        """The newest step checkpoint that verifies; broken ones are set aside with a warning.

        A broken file is renamed to ``<name>.corrupt`` rather than deleted, so nothing the
        user had is lost and the next resume does not trip over it again. On Drive the usual
        cause is a runtime that stopped before Drive finished uploading the file, and the
        warning says so. A Drive that stops answering while reading is not damage: its error
        is raised and the file left as it is.
        """
        damaged: list[tuple[Path, Exception]] = []
        found = None
        for path in self.step_files():
            try:
                found = Found(path, read_checkpoint(path, map_location))
                break
            except (CorruptCheckpoint, RuntimeError, OSError, EOFError) as error:
                if is_drive_error(error):
                    raise
                os.replace(path, path.with_name(path.name + ".corrupt"))
                damaged.append((path, error))
        fallback = (
            f"resuming from {found.path.name}."
            if found
            else "no earlier checkpoint verifies: training starts from the beginning."
        )
        for path, error in damaged:
            if isinstance(error, UnsafeCheckpoint):
                cause = "it was not loaded"
            elif on_google_drive(path):
                cause = (
                    "it did not finish reaching Drive before the runtime stopped (Drive uploads in the "
                    "background)"
                )
            else:
                cause = "it is incomplete or damaged"
            warnings.warn(
                f"Skipping damaged checkpoint {path.name} ({error}): {cause}. Kept as {path.name}.corrupt; "
                + fallback,
                stacklevel=2,
            )
        return found

    def best(self, map_location: str | torch.device = "cpu") -> Found | None:
        path = self.folder / BEST_FILE
        if not path.exists():
            return None
        return Found(path, read_checkpoint(path, map_location))
