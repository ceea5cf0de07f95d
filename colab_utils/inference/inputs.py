"""A user's own frames, from whatever they have: image files, a folder, a short video, arrays.

Everything becomes a :class:`Frame` (RGB uint8, a unique name that output files are named
after, and where it came from). Files OpenCV cannot read are skipped and reported, never
fatal; only when nothing at all could be read does :func:`read_frames` raise, saying what it
accepts. Videos are sampled (every Nth frame) and the total is capped, so a long clip cannot
fill the runtime's memory by accident.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
ACCEPTED = (
    f"image files ({', '.join(IMAGE_SUFFIXES)}), videos ({', '.join(VIDEO_SUFFIXES)}), folders holding "
    "them, or RGB uint8 numpy arrays of shape (H, W, 3)"
)


@dataclass
class Frame:
    """One input image: ``image`` is RGB uint8 (H, W, 3); ``name`` is unique among the inputs."""

    name: str
    image: np.ndarray
    source: str

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.image.shape[1], self.image.shape[0]


@dataclass
class FrameReport:
    """The frames read, what was skipped (and why), and notes on videos and caps."""

    frames: list[Frame] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"Read {len(self.frames)} frame{'s' * (len(self.frames) != 1)}."]
        lines += self.notes
        if self.skipped:
            lines.append(f"Skipped {len(self.skipped)} unreadable input{'s' * (len(self.skipped) != 1)}:")
            lines += [f"  {what}: {why}" for what, why in self.skipped]
        return "\n".join(lines)


def safe_name(name: str) -> str:
    """``name`` made safe as a file name: runs of characters other than A-Z a-z 0-9 . _ - become ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "frame"


class VideoFrames:
    """A video file's frames, decoded one at a time (OpenCV): iterating gives (index in the video, RGB
    frame) of every ``every``-th frame; ``decoded`` counts all frames decoded so far."""

    def __init__(self, path: Path, every: int = 1) -> None:
        self.path, self.every = path, every
        self.capture = cv2.VideoCapture(str(path))
        self.opened = self.capture.isOpened()
        # what the file says, read before decoding releases it: frames per second (25 when it says
        # nothing) and the container's frame count (0 when unknown)
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps > 0 else 25.0
        self.length = max(int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
        self.decoded = 0

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        try:
            while True:
                ok, bgr = self.capture.read()
                if not ok:
                    return
                index, self.decoded = self.decoded, self.decoded + 1
                if index % self.every == 0:
                    yield index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            self.capture.release()


class _Reader:
    """Collects frames up to the cap, giving each a unique file-name-safe name."""

    def __init__(self, every: int, max_frames: int) -> None:
        if every < 1 or max_frames < 1:
            raise ValueError(f"every and max_frames must be >= 1, not {every} and {max_frames}")
        self.every, self.max_frames = every, max_frames
        self.report = FrameReport()
        self.names: set[str] = set()
        self.unread = 0  # inputs left out once the cap was reached

    @property
    def full(self) -> bool:
        return len(self.report.frames) >= self.max_frames

    def add(self, name: str, image: np.ndarray, source: str) -> None:
        base = safe_name(name)
        unique, n = base, 1
        while unique in self.names:
            n += 1
            unique = f"{base}_{n}"
        self.names.add(unique)
        self.report.frames.append(Frame(unique, image, source))

    def array(self, array: Any, index: int) -> None:
        image = np.asarray(array)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"array {index} has shape {image.shape} and dtype {image.dtype}: pass RGB uint8 (H, W, 3)"
            )
        self.add(f"array_{index:03d}", np.ascontiguousarray(image), f"array {index}")

    def path(self, path: Path) -> None:
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist. Give {ACCEPTED}.")
        if path.is_dir():
            self.folder(path)
        elif path.suffix.lower() in VIDEO_SUFFIXES:
            self.video(path)
        else:
            self.image(path)

    def folder(self, folder: Path) -> None:
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        media = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES]
        if len(media) < len(files):
            self.report.notes.append(
                f"{folder}: ignored {len(files) - len(media)} files that are neither images nor videos"
            )
        for path in media:
            if self.full:
                self.unread += 1
            elif path.suffix.lower() in VIDEO_SUFFIXES:
                self.video(path)
            else:
                self.image(path)

    def image(self, path: Path) -> None:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            self.report.skipped.append((str(path), "not an image OpenCV can read (corrupt or not an image)"))
            return
        self.add(path.stem, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), str(path))

    def video(self, path: Path) -> None:
        video = VideoFrames(path, self.every)
        if not video.opened:
            self.report.skipped.append((str(path), "not a video OpenCV can open"))
            return
        kept = 0
        frames = iter(video)
        for index, rgb in frames:
            self.add(f"{path.stem}_{index:06d}", rgb, f"{path} frame {index}")
            kept += 1
            if self.full:
                break
        frames.close()  # the file is released also when the cap stopped the reading
        decoded = video.decoded
        if not decoded:
            self.report.skipped.append((str(path), "no frame could be decoded"))
            return
        step = f"1 in {self.every} of " if self.every > 1 else ""
        capped = f", stopped at max_frames={self.max_frames}" if self.full else ""
        self.report.notes.append(f"{path.name}: kept {kept} frames ({step}{decoded} decoded{capped})")


def _items(inputs: Any) -> list[Any]:
    if isinstance(inputs, str | Path):
        return [inputs]
    if isinstance(inputs, np.ndarray):
        return list(inputs) if inputs.ndim == 4 else [inputs]
    return list(inputs)


def read_frames(inputs: Any, every: int = 1, max_frames: int = 100) -> FrameReport:
    """Frames from a path (image, video, folder: its images and videos sorted by name), an RGB
    uint8 array (H, W, 3) or a stack of them (N, H, W, 3), or a list mixing these.

    Videos keep every ``every``-th frame; reading stops once ``max_frames`` frames are held.
    Raises ValueError when no frame at all could be read.
    """
    reader = _Reader(every, max_frames)
    items = _items(inputs)
    arrays = 0
    for item in items:
        if reader.full:
            reader.unread += 1
        elif isinstance(item, str | Path):
            reader.path(Path(item).expanduser())
        else:
            reader.array(item, arrays)
            arrays += 1
    report = reader.report
    if reader.unread:
        report.notes.append(
            f"Stopped at max_frames={max_frames}: {reader.unread} more inputs were not read "
            "(raise max_frames, or pass fewer files)."
        )
    if not report.frames:
        reasons = "".join(f"\n  {what}: {why}" for what, why in report.skipped)
        given = str(inputs) if isinstance(inputs, str | Path) else f"the {len(items)} inputs given"
        raise ValueError(f"No readable frame in {given}. Give {ACCEPTED}.{reasons}")
    return report
