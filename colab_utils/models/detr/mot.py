"""SoccerNet tracking-2023 clips on disk (the MOT Challenge layout), read into per-frame boxes.

A clip folder ``SNMOT-XXX/`` holds ``seqinfo.ini`` (frame rate, length, image size, image
folder), ``gameinfo.ini`` (what each tracklet is: ``trackletID_7= player team left;10``,
``goalkeepers team right;1``, ``referee;main``, ``ball;1``, ``other;...``), ``gt/gt.txt``
(``frame,id,left,top,width,height,1,-1,-1,-1`` per box, frames counted from 1) and
``img1/000001.jpg`` ... Real files have flaws: a line that does not parse, a box of zero
size, a frame past the clip's end, a track id that ``gameinfo.ini`` does not describe, an
image missing from ``img1/``. Each is reported with a count and left out; a clip is never
dropped for one bad line.

:class:`Clip` is the reader's result and is shared with the Game State reader
(:mod:`colab_utils.models.detr.gamestate`): the same boxes, track ids and roles whichever file
they came from. It knows nothing about training, so trackers and detectors read alike.
"""

from __future__ import annotations

import configparser
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROLES = ("player", "goalkeeper", "referee", "ball", "other")
SEQINFO, GAMEINFO, GT_FILE = "seqinfo.ini", "gameinfo.ini", Path("gt") / "gt.txt"
_ROLE_WORDS = {"player": "player", "goalkeeper": "goalkeeper", "goalkeepers": "goalkeeper"}
_ROLE_WORDS.update({"referee": "referee", "ball": "ball", "other": "other"})
_TEAM_WORDS = {"left": "left", "right": "right", "unknown": None}


class ClipFormatError(ValueError):
    """A clip whose description files are missing or unusable: the whole clip is skipped."""


class ClipUnlabelled(ClipFormatError):
    """A clip without ``gt/gt.txt``: its labels are not part of the download (a test or challenge split)."""


@dataclass(frozen=True)
class SequenceInfo:
    """``seqinfo.ini``: where the frames are and what they look like."""

    name: str
    im_dir: str
    frame_rate: float
    seq_length: int
    width: int
    height: int
    im_ext: str


@dataclass(frozen=True)
class Tracklet:
    """What one track id is: its role, and for players and goalkeepers their team and jersey."""

    track_id: int
    role: str  # one of ROLES
    team: str | None = None  # "left" or "right" (the side the team attacks from, as SoccerNet labels it);
    # None for other roles and for ``team unknown``
    jersey: str | None = None  # as written: "10", or "X" when unreadable
    detail: str | None = None  # what follows ";" for the other roles: "main", "side top", "1"


@dataclass(frozen=True)
class FrameBoxes:
    """The boxes of one frame: ``boxes`` (N, 4) as left, top, width, height in frame pixels."""

    frame: int  # counted from 1, as in gt.txt and the image names
    track_ids: np.ndarray  # (N,) int64
    boxes: np.ndarray  # (N, 4) float64


@dataclass
class ClipProblems:
    """What was left out of a clip, and why (the examples are capped, the counts are not)."""

    bad_lines: int = 0
    examples: list[str] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    missing_images: list[int] = field(default_factory=list)

    def add(self, reason: str, example: str) -> None:
        self.bad_lines += 1
        self.reasons[reason] += 1
        if len(self.examples) < 5:
            self.examples.append(example)

    def summary(self) -> str:
        parts = []
        if self.bad_lines:
            why = ", ".join(f"{count} {reason}" for reason, count in sorted(self.reasons.items()))
            parts.append(f"{self.bad_lines} bad annotation(s) skipped ({why})")
        if self.missing_images:
            parts.append(f"{len(self.missing_images)} frame(s) without a readable image skipped")
        return "; ".join(parts)


@dataclass
class Clip:
    """One clip's boxes by frame, its tracklets and its images, from either annotation format."""

    name: str
    folder: Path
    info: SequenceInfo
    tracklets: dict[int, Tracklet]
    frames: dict[int, FrameBoxes]  # annotated frames with an image (some may hold no box), by number
    problems: ClipProblems = field(default_factory=ClipProblems)

    def image_path(self, frame: int) -> Path:
        return self.folder / self.info.im_dir / f"{frame:06d}{self.info.im_ext}"

    def roles(self, frame: int) -> list[str]:
        return [self.tracklets[int(t)].role for t in self.frames[frame].track_ids]

    def box_count(self) -> int:
        return sum(len(boxes.track_ids) for boxes in self.frames.values())

    def tracks(self) -> dict[int, np.ndarray]:
        """Per track id, its boxes over time as rows (frame, left, top, width, height), by frame."""
        rows: dict[int, list[np.ndarray]] = {}
        for frame in sorted(self.frames):
            boxes = self.frames[frame]
            for track_id, box in zip(boxes.track_ids.tolist(), boxes.boxes, strict=True):
                rows.setdefault(track_id, []).append(np.concatenate([[frame], box]))
        return {track_id: np.stack(track) for track_id, track in rows.items()}

    def drop_frames(self, frames: list[int]) -> None:
        """Leave out frames whose image cannot be used, recording them as problems."""
        for frame in frames:
            if self.frames.pop(frame, None) is not None:
                self.problems.missing_images.append(frame)


def _read_ini(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys keep their case: imWidth, trackletID_1
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except (OSError, UnicodeDecodeError, configparser.Error) as err:
        raise ClipFormatError(f"{path}: cannot be read as an INI file ({err})") from err
    if "Sequence" not in parser:
        raise ClipFormatError(f"{path}: no [Sequence] section")
    return parser["Sequence"]


def read_seqinfo(path: Path) -> SequenceInfo:
    """``seqinfo.ini`` as :class:`SequenceInfo`; ``ClipFormatError`` naming the key that is wrong."""
    section = _read_ini(Path(path))
    try:
        return SequenceInfo(
            name=section.get("name", Path(path).parent.name),
            im_dir=section.get("imDir", "img1"),
            frame_rate=float(section["frameRate"]),
            seq_length=int(section["seqLength"]),
            width=int(section["imWidth"]),
            height=int(section["imHeight"]),
            im_ext=section.get("imExt", ".jpg"),
        )
    except (KeyError, ValueError) as err:
        raise ClipFormatError(f"{path}: missing or malformed {err}") from err


def parse_tracklet(track_id: int, text: str) -> Tracklet:
    """One ``trackletID_N`` value: ``player team left;10``, ``goalkeepers team right;X``, ``referee;main``.

    ``player team unknown;23`` (and the goalkeeper's twin) keeps its role with no team: the
    box is still a player's to a detector, so it must not be dropped for the missing side.
    """
    descriptor, _, extra = text.partition(";")
    words = descriptor.split()
    if not words or words[0].lower() not in _ROLE_WORDS:
        raise ValueError(f"unknown role in {text.strip()!r}")
    role = _ROLE_WORDS[words[0].lower()]
    extra = extra.strip() or None
    if role in ("player", "goalkeeper"):
        return Tracklet(track_id, role, team=_team(words, text), jersey=extra)
    return Tracklet(track_id, role, detail=extra)


def _team(words: list[str], text: str) -> str | None:
    """``left`` or ``right`` from ``<role> team <side>``; None for ``team unknown``; else ValueError."""
    side = words[-1].lower() if len(words) >= 3 and words[1].lower() == "team" else None
    if side not in _TEAM_WORDS:
        raise ValueError(f"no team left/right/unknown in {text.strip()!r}")
    return _TEAM_WORDS[side]


def read_gameinfo(path: Path) -> tuple[dict[int, Tracklet], list[str]]:
    """The tracklets ``gameinfo.ini`` describes, and one message per entry it could not read."""
    section = _read_ini(Path(path))
    tracklets, errors = {}, []
    for key, value in section.items():
        if not key.lower().startswith("trackletid_"):
            continue
        try:
            track_id = int(key.split("_", 1)[1])
            tracklets[track_id] = parse_tracklet(track_id, value)
        except ValueError as err:
            errors.append(f"{path.name} {key}: {err}")
    return tracklets, errors


def _parse_gt_line(line: str, seq_length: int) -> tuple[int, int, list[float]]:
    """(frame, track id, [left, top, width, height]) of one gt.txt line; ValueError with the reason."""
    fields = line.split(",")
    if len(fields) < 6:
        raise ValueError("fewer than 6 fields")
    try:
        numbers = [float(v) for v in fields[:6]]
    except ValueError:
        raise ValueError("not a number") from None
    if not all(math.isfinite(v) for v in numbers):
        raise ValueError("not a number")
    frame, track_id, box = numbers[0], numbers[1], numbers[2:]
    if frame != int(frame) or track_id != int(track_id):
        raise ValueError("fractional frame or id")
    if not 1 <= frame <= seq_length:
        raise ValueError("frame outside the clip")
    if box[2] <= 0 or box[3] <= 0:
        raise ValueError("empty box")
    return int(frame), int(track_id), box


def read_gt(
    path: Path, seq_length: int, tracklets: dict[int, Tracklet], problems: ClipProblems
) -> dict[int, FrameBoxes]:
    """``gt/gt.txt`` as boxes by frame; lines that cannot be used are counted in ``problems``."""
    by_frame: dict[int, dict[int, list[float]]] = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, raw in enumerate(handle, 1):
            line = raw.strip()
            if not line:
                continue
            try:
                frame, track_id, box = _parse_gt_line(line, seq_length)
            except ValueError as err:
                problems.add(str(err), f"{path.name} line {number}: {line[:60]!r} ({err})")
                continue
            if track_id not in tracklets:
                problems.add("track id not in gameinfo.ini", f"{path.name} line {number}: id {track_id}")
                continue
            boxes = by_frame.setdefault(frame, {})
            if track_id in boxes:
                problems.add("duplicate id in a frame", f"{path.name} line {number}: id {track_id} again")
                continue
            boxes[track_id] = box
    return {frame: frame_boxes(frame, boxes) for frame, boxes in sorted(by_frame.items())}


def frame_boxes(frame: int, boxes: dict[int, list[float]]) -> FrameBoxes:
    """:class:`FrameBoxes` from {track id: [left, top, width, height]}."""
    ids = np.array(list(boxes), dtype=np.int64)
    values = np.array(list(boxes.values()), dtype=np.float64).reshape(-1, 4)
    return FrameBoxes(frame, ids, values)


def present_images(clip: Clip) -> set[int]:
    """Frame numbers whose image file exists and is not empty (one folder listing, no decoding)."""
    folder = clip.folder / clip.info.im_dir
    if not folder.is_dir():
        return set()
    found = set()
    with os.scandir(folder) as entries:
        for entry in entries:
            stem, ext = os.path.splitext(entry.name)
            if ext == clip.info.im_ext and stem.isdigit() and entry.stat().st_size > 0:
                found.add(int(stem))
    return found


def read_mot_clip(folder: Path) -> Clip:
    """One tracking-2023 clip folder; frames whose image is missing are skipped and counted.

    Raises :class:`ClipUnlabelled` when ``gt/gt.txt`` is missing, :class:`ClipFormatError` when
    ``seqinfo.ini`` or ``gameinfo.ini`` is missing or a file is unreadable as a whole.
    """
    folder = Path(folder)
    if not (folder / GT_FILE).is_file():
        raise ClipUnlabelled(f"{folder.name}: {GT_FILE} is missing")
    for name in (SEQINFO, GAMEINFO):
        if not (folder / name).is_file():
            raise ClipFormatError(f"{folder.name}: {name} is missing")
    info = read_seqinfo(folder / SEQINFO)
    tracklets, errors = read_gameinfo(folder / GAMEINFO)
    problems = ClipProblems()
    for error in errors:
        problems.add("unreadable tracklet in gameinfo.ini", error)
    boxes = read_gt(folder / GT_FILE, info.seq_length, tracklets, problems)
    # every frame of a tracking clip is annotated: one without lines shows nothing to detect
    frames = {f: boxes.get(f) or frame_boxes(f, {}) for f in range(1, info.seq_length + 1)}
    clip = Clip(folder.name, folder, info, tracklets, frames, problems)
    images = present_images(clip)
    clip.drop_frames([frame for frame in clip.frames if frame not in images])
    return clip


def clip_folders(split_dir: Path, marker: str) -> list[Path]:
    """The clip folders of an extracted split: sub-folders holding ``marker``, sorted by name."""
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        raise FileNotFoundError(f"{split_dir} does not exist: extract the split first (the data step).")
    return sorted(p for p in split_dir.iterdir() if p.is_dir() and (p / marker).is_file())
