"""SoccerNet calibration-2023 on disk: read and verify annotation files, prepare splits.

A split is usable when each image has a JSON file of the same stem holding a dict of the
26 marking classes to lists of normalised {"x", "y"} points. Real archives contain a few
files that are not: they are reported and skipped, with counts, never trained on.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from colab_utils.geometry.pitch import canonical_class_name, spelling_key
from colab_utils.soccernet.splits import prepare_split_zips
from colab_utils.soccernet.verify import image_is_readable, read_manifest, write_manifest

CALIBRATION_TASK = "calibration-2023"
IGNORED_CLASSES = ("Goal unknown", "Line unknown")
"""Classes of SoccerNet's pitch model that are not pitch markings: skipped, with a count."""
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class AnnotationError(ValueError):
    """A calibration JSON file that cannot be used as it is."""


class CorruptJSONError(AnnotationError):
    pass


class MalformedAnnotationError(AnnotationError):
    pass


class UnknownClassError(AnnotationError):
    def __init__(self, path: Path, names: list[str]):
        super().__init__(f"{path}: unknown classes {names}")
        self.names = names


def read_calibration_annotation(path: Path) -> tuple[dict[str, list[tuple[float, float]]], Counter[str]]:
    """One SoccerNet calibration JSON as {class: [(x, y), ...]} (normalised), and the ignored classes.

    Class names are normalised (:func:`~colab_utils.geometry.pitch.canonical_class_name`): the
    datasets spell ``Goal left post left`` with and without a trailing space, and the same frame
    must not be skipped for it; points of two spellings of one class are kept together.
    Raises :class:`CorruptJSONError` (not JSON), :class:`MalformedAnnotationError` (not a dict of
    class -> list of {"x", "y"} numbers) or :class:`UnknownClassError` (a name outside the 26
    classes and :data:`IGNORED_CLASSES`, whatever its whitespace).
    """
    try:
        content = json.loads(Path(path).read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CorruptJSONError(f"{path}: {err}") from err
    if not isinstance(content, dict):
        raise MalformedAnnotationError(f"{path}: expected an object of classes, got {type(content).__name__}")
    unknown = sorted(name for name in content if _class_of(name) is None)
    if unknown:
        raise UnknownClassError(Path(path), unknown)
    ignored: Counter[str] = Counter()
    annotation: dict[str, list[tuple[float, float]]] = {}
    for name, points in content.items():
        canonical = _class_of(name)
        if canonical in IGNORED_CLASSES:
            ignored[canonical] += 1
            continue
        if not isinstance(points, list) or not all(_is_point(p) for p in points):
            raise MalformedAnnotationError(f"{path}: '{name}' is not a list of {{'x', 'y'}} points")
        annotation.setdefault(canonical, []).extend((float(p["x"]), float(p["y"])) for p in points)
    return annotation, ignored


_IGNORED_BY_SPELLING = {spelling_key(name): name for name in IGNORED_CLASSES}


def _class_of(name: str) -> str | None:
    """The canonical spelling of a marking class or an ignored class; None when it is neither."""
    return canonical_class_name(name) or _IGNORED_BY_SPELLING.get(spelling_key(name))


def _is_point(point: object) -> bool:
    return isinstance(point, dict) and all(
        isinstance(point.get(axis), (int, float))
        and not isinstance(point.get(axis), bool)
        and math.isfinite(point[axis])
        for axis in ("x", "y")
    )


@dataclass
class CalibrationSplitReport:
    """What a calibration split folder holds; each skipped file is counted under its first problem."""

    split_dir: Path
    pairs: list[tuple[Path, Path]] = field(default_factory=list)
    unlabelled: list[Path] = field(default_factory=list)
    corrupt_json: list[Path] = field(default_factory=list)
    malformed_json: list[Path] = field(default_factory=list)
    unknown_class_files: list[Path] = field(default_factory=list)
    unknown_classes: Counter[str] = field(default_factory=Counter)
    unreadable_images: list[Path] = field(default_factory=list)
    json_without_image: list[Path] = field(default_factory=list)
    ignored_classes: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        parts = [f"{self.split_dir.name}: {len(self.pairs)} pairs"]
        for count, text in (
            (len(self.corrupt_json), "corrupt JSON skipped"),
            (len(self.malformed_json), "malformed JSON skipped"),
            (len(self.unknown_class_files), "JSON with unknown classes skipped"),
            (len(self.unreadable_images), "unreadable image(s) skipped"),
            (len(self.json_without_image), "JSON without image skipped"),
            (len(self.unlabelled), "unlabelled image(s)"),
        ):
            if count:
                parts.append(f"{count} {text}")
        if self.unknown_classes:
            parts.append(f"unknown classes: {_tally(self.unknown_classes)}")
        if self.ignored_classes:
            parts.append(f"ignored: {_tally(self.ignored_classes)}")
        return ", ".join(parts)


def _tally(counts: Counter[str]) -> str:
    return ", ".join(f"{name!r} x{count}" for name, count in sorted(counts.items()))


def verify_calibration_split(split_dir: Path) -> CalibrationSplitReport:
    """Pair images with their JSON by file stem and sort out everything that cannot be trained on."""
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        raise FileNotFoundError(f"{split_dir} does not exist: extract the split first (prepare_calibration).")
    images: dict[str, Path] = {}
    annotations: dict[str, Path] = {}
    for path in sorted(split_dir.iterdir()):
        if "info" in path.name or path.name.startswith(".") or not path.is_file():
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES:
            images[path.stem] = path
        elif path.suffix.lower() == ".json":
            annotations[path.stem] = path
    report = CalibrationSplitReport(split_dir)
    report.json_without_image = [annotations[s] for s in sorted(annotations.keys() - images.keys())]
    stems = sorted(images)
    workers = min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as pool:
        checks = pool.map(lambda stem: _check_pair(images[stem], annotations.get(stem)), stems)
        for stem, (problem, detail) in zip(stems, checks, strict=True):
            _file_result(report, images[stem], annotations.get(stem), problem, detail)
    return report


def _check_pair(image: Path, annotation: Path | None) -> tuple[str | None, object]:
    """(problem, detail) for one image and its JSON; problem None means usable."""
    ignored: Counter[str] = Counter()
    if annotation is not None:
        try:
            _, ignored = read_calibration_annotation(annotation)
        except CorruptJSONError:
            return "corrupt_json", None
        except MalformedAnnotationError:
            return "malformed_json", None
        except UnknownClassError as err:
            return "unknown_class", err.names
    if not image_is_readable(image):
        return "unreadable_image", None
    return None, ignored


def _file_result(
    report: CalibrationSplitReport, image: Path, annotation: Path | None, problem: str | None, detail: object
) -> None:
    if problem == "corrupt_json":
        report.corrupt_json.append(annotation)
    elif problem == "malformed_json":
        report.malformed_json.append(annotation)
    elif problem == "unknown_class":
        report.unknown_class_files.append(annotation)
        report.unknown_classes.update(detail)
    elif problem == "unreadable_image":
        report.unreadable_images.append(image)
    elif annotation is None:
        report.unlabelled.append(image)
    else:
        report.pairs.append((image, annotation))
        report.ignored_classes.update(detail)


@dataclass(frozen=True)
class VerifiedSplit:
    """The usable image/JSON pairs of an extracted split, as verification found them."""

    split_dir: Path
    pairs: list[tuple[Path, Path]]
    summary: str
    unlabelled: list[Path] = field(default_factory=list)  # readable images without JSON (the challenge)


def write_verified_manifest(report: CalibrationSplitReport) -> VerifiedSplit:
    """Keep the usable pairs (and the readable unlabelled images) beside the split, so a later
    session need not decode every image."""
    verified = VerifiedSplit(report.split_dir, report.pairs, report.summary(), report.unlabelled)
    content = {
        "summary": verified.summary,
        "pairs": [[p.name, a.name] for p, a in report.pairs],
        "unlabelled": [p.name for p in report.unlabelled],
    }
    write_manifest(report.split_dir, content)
    return verified


def load_verified_split(split_dir: Path) -> VerifiedSplit:
    """The pairs verification kept, without reading every image again."""
    content = read_manifest(split_dir)
    pairs = [(split_dir / image, split_dir / annotation) for image, annotation in content["pairs"]]
    unlabelled = [split_dir / image for image in content.get("unlabelled", [])]  # older manifests: none
    return VerifiedSplit(Path(split_dir), pairs, content["summary"], unlabelled)


def prepare_calibration(
    root: Path, splits: Sequence[str], zip_dir: Path | None = None, download: bool = True
) -> dict[str, VerifiedSplit]:
    """Download (what is missing), extract to ``root/calibration-2023/<split>/`` and verify the splits."""
    return prepare_split_zips(
        CALIBRATION_TASK,
        root,
        splits,
        lambda split_dir: write_verified_manifest(verify_calibration_split(split_dir)),
        load_verified_split,
        zip_dir,
        download,
    )
