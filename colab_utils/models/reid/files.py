"""SoccerNet reid-2023 on disk: crop file names, split folders, verification with counts.

A split holds ``<league>/<season>/<game>/<action>/<crop>.png`` (train) or the same tree under
``query/`` and ``gallery/`` (valid, test). Every label is in the crop's name, dash separated::

    <bbox_idx>-<action_idx>-<person_uid>-<frame_idx>-<class>-<ID>-<UAI>-<H>x<W>.png

``bbox_idx`` counts the crops of one subset (train, query or gallery) from 0; ``action_idx``
numbers the split's actions; ``person_uid`` names one person within one action; ``frame_idx``
is 0 for the action frame (queries come from it) and > 0 for its replays; ``class`` is e.g.
``Player_team_left``; ``ID`` is the visible jersey number or another label ("None" when
unknown); ``UAI`` is SoccerNet's unique annotation id; ``HxW`` the crop's height and width in
pixels. The challenge split has no labels: ``<bbox_idx>-<action_idx>-<H>x<W>.png``.

Labels are read from the name only, never from the folders. Files that cannot be used (a name
that does not parse, an unlabelled crop in a labelled split, an image that does not decode) are
skipped and counted, never trained on.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from colab_utils.soccernet import verify

SUBSETS = ("train", "query", "gallery")
CROP_SUFFIXES = (".png", ".jpg", ".jpeg")
"""SoccerNet's crops are PNG; a user's folder (:mod:`colab_utils.models.reid.folder`) may hold JPEGs."""
RANKING_SUBSETS = ("query", "gallery")


class CropNameError(ValueError):
    """A file name that is not a SoccerNet reid crop name."""


@dataclass(frozen=True)
class CropName:
    """The fields of one crop's file name; the label fields are None for unlabelled crops."""

    bbox_idx: int
    action_idx: int
    height: int
    width: int
    person_uid: str | None = None
    frame_idx: int | None = None
    clazz: str | None = None
    jersey: str | None = None  # the "ID" field
    uai: str | None = None

    @property
    def labelled(self) -> bool:
        return self.person_uid is not None

    @property
    def identity(self) -> tuple[int, str]:
        """Who this is: a person within one action (identities are not linked across actions)."""
        if self.person_uid is None:
            raise CropNameError(f"{self.filename()} has no person label")
        return self.action_idx, self.person_uid

    def filename(self) -> str:
        size = f"{self.height}x{self.width}"
        if not self.labelled:
            return f"{self.bbox_idx}-{self.action_idx}-{size}.png"
        fields = [self.bbox_idx, self.action_idx, self.person_uid, self.frame_idx, self.clazz, self.jersey]
        return "-".join(str(f) for f in [*fields, self.uai, size]) + ".png"


def _number(text: str, what: str, name: str) -> int:
    if not text.isdigit():
        raise CropNameError(f"{name!r}: {what} {text!r} is not a number")
    return int(text)


def _size(text: str, name: str) -> tuple[int, int]:
    parts = text.split("x")
    if len(parts) != 2:
        raise CropNameError(f"{name!r}: the size field {text!r} is not HxW")
    return _number(parts[0], "height", name), _number(parts[1], "width", name)


def parse_crop_name(name: str) -> CropName:
    """The fields of a crop file name (folders allowed); :class:`CropNameError` if it is not one."""
    name = Path(name).name
    stem, dot, suffix = name.rpartition(".")
    if not dot or f".{suffix.lower()}" not in CROP_SUFFIXES:
        raise CropNameError(f"{name!r} is not a {' / '.join(CROP_SUFFIXES)} crop")
    fields = stem.split("-")
    if len(fields) == 3:
        height, width = _size(fields[2], name)
        return CropName(
            _number(fields[0], "bbox_idx", name), _number(fields[1], "action_idx", name), height, width
        )
    if len(fields) != 8:
        raise CropNameError(f"{name!r} has {len(fields)} dash-separated fields; a labelled crop has 8")
    bbox, action, uid, frame, clazz, jersey, uai, size = fields
    if not uid or not clazz or not uai:
        raise CropNameError(f"{name!r} has an empty person_uid, class or UAI field")
    height, width = _size(size, name)
    return CropName(
        bbox_idx=_number(bbox, "bbox_idx", name),
        action_idx=_number(action, "action_idx", name),
        height=height,
        width=width,
        person_uid=uid,
        frame_idx=_number(frame, "frame_idx", name),
        clazz=clazz,
        jersey=jersey,
        uai=uai,
    )


@dataclass(frozen=True)
class Crop:
    """One usable crop: where it is, which subset it belongs to and what its name says."""

    path: Path
    subset: str
    name: CropName


@dataclass
class ReidSplitReport:
    """What a split folder holds; each skipped file is counted under its first problem."""

    split_dir: Path
    crops: list[Crop] = field(default_factory=list)
    bad_names: list[Path] = field(default_factory=list)
    unlabelled: list[Path] = field(default_factory=list)
    unreadable: list[Path] = field(default_factory=list)
    other_files: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        subsets = Counter(crop.subset for crop in self.crops)
        identities = len({crop.name.identity for crop in self.crops})
        actions = len({crop.name.action_idx for crop in self.crops})
        counts = ", ".join(f"{subsets[s]} {s}" for s in SUBSETS if subsets[s])
        parts = [f"{self.split_dir.name}: {len(self.crops)} crops ({counts or 'none'})"]
        parts.append(f"{identities} identities in {actions} actions")
        if self.crops and set(subsets) >= set(RANKING_SUBSETS):
            parts.append(f"{len(unmatched_queries(self.crops))} queries without a gallery match")
        for items, text in (
            (self.bad_names, "file(s) with a malformed name skipped"),
            (self.unlabelled, "unlabelled crop(s) skipped"),
            (self.unreadable, "unreadable image(s) skipped"),
            (self.other_files, "other file(s) ignored"),
        ):
            if items:
                parts.append(f"{len(items)} {text}")
        return ", ".join(parts)


def unmatched_queries(crops: list[Crop]) -> list[Crop]:
    """Queries whose identity has no gallery crop: they cannot be scored (the metric skips them)."""
    in_gallery = {crop.name.identity for crop in crops if crop.subset == "gallery"}
    return [crop for crop in crops if crop.subset == "query" and crop.name.identity not in in_gallery]


def _subset_folders(split_dir: Path) -> list[tuple[str, Path]]:
    ranking = [(subset, split_dir / subset) for subset in RANKING_SUBSETS if (split_dir / subset).is_dir()]
    return ranking or [("train", split_dir)]


def verify_reid_split(split_dir: Path) -> ReidSplitReport:
    """Read every crop name of a split (and decode every image) and sort out what cannot be used."""
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        raise FileNotFoundError(f"{split_dir} does not exist: extract the split first (prepare_reid).")
    report = ReidSplitReport(split_dir)
    candidates: list[tuple[Path, str, CropName]] = []
    for subset, folder in _subset_folders(split_dir):
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
            if path.suffix.lower() not in CROP_SUFFIXES:
                report.other_files.append(path)
                continue
            try:
                name = parse_crop_name(path.name)
            except CropNameError:
                report.bad_names.append(path)
                continue
            if not name.labelled:
                report.unlabelled.append(path)
                continue
            candidates.append((path, subset, name))
    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        readable = pool.map(lambda item: verify.image_is_readable(item[0]), candidates)
        for (path, subset, name), ok in zip(candidates, readable, strict=True):
            if ok:
                report.crops.append(Crop(path, subset, name))
            else:
                report.unreadable.append(path)
    return report


@dataclass(frozen=True)
class VerifiedReidSplit:
    """The usable crops of an extracted split, as verification found them."""

    split_dir: Path
    crops: list[Crop]
    summary: str


def write_manifest(report: ReidSplitReport) -> VerifiedReidSplit:
    """Keep what verification found beside the split, so a later session need not decode every image."""
    verified = VerifiedReidSplit(report.split_dir, report.crops, report.summary())
    content = {
        "summary": verified.summary,
        "crops": [[str(c.path.relative_to(report.split_dir)), c.subset] for c in report.crops],
    }
    verify.write_manifest(report.split_dir, content)
    return verified


def load_verified_split(split_dir: Path) -> VerifiedReidSplit:
    """The crops verification kept (names are parsed again: cheap, and the manifest stays small).

    Kept in memory while the manifest is unchanged: the task asks for the training split's
    identities at every checkpoint (the number of classes is part of the model's signature).
    """
    split_dir = Path(split_dir)
    path = verify.manifest_path(split_dir)
    if not path.exists():
        verify.read_manifest(split_dir)  # says to run the data step
    info = path.stat()
    return _read_manifest(split_dir, info.st_mtime_ns, info.st_size)


@functools.lru_cache(maxsize=4)
def _read_manifest(split_dir: Path, mtime_ns: int, size: int) -> VerifiedReidSplit:
    content = verify.read_manifest(split_dir)
    crops = [
        Crop(split_dir / relative, subset, parse_crop_name(relative)) for relative, subset in content["crops"]
    ]
    return VerifiedReidSplit(split_dir, crops, content["summary"])
