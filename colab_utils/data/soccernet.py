"""SoccerNet data through the official ``SoccerNet`` package: download, extract, verify.

The package (0.2.x) fetches each task's split zips from the Hugging Face Hub with
``snapshot_download``, which keeps complete files and skips them on the next run. It does
not check task names (an unknown one prints "ERROR Unknown task" and downloads nothing), it
trusts any file already in place (a zip truncated by a killed runtime or a Drive sync is kept
forever), and its errors say little about what to do. This module checks names first, removes
damaged leftovers so they are fetched again, verifies what arrived, and turns the Hub's errors
into instructions.
"""

from __future__ import annotations

import difflib
import json
import math
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from colab_utils.data.archives import check_zip, extract_zip
from colab_utils.geometry.pitch import CLASS_NAMES


@dataclass(frozen=True)
class SoccerNetTask:
    """Where a task lives on the Hub and the zip file each split is saved as (read from the package)."""

    repo_id: str
    zips: dict[str, str]


TASKS: dict[str, SoccerNetTask] = {
    "calibration-2023": SoccerNetTask(
        "SoccerNet/SN-Calibration-2023",
        {"train": "train.zip", "valid": "valid.zip", "test": "test.zip", "challenge": "challenge.zip"},
    ),
    "tracking-2023": SoccerNetTask(
        "SoccerNet/SN-Tracking-2023",
        {"train": "train.zip", "test": "test.zip", "challenge": "challenge2023.zip"},
    ),
    "reid-2023": SoccerNetTask(
        "SoccerNet/SN-ReID-2023",
        {"train": "train.zip", "valid": "valid.zip", "test": "test.zip", "challenge": "challenge.zip"},
    ),
    "gamestate-2024": SoccerNetTask(
        "SoccerNet/SN-GSR-2024",
        {"train": "train.zip", "valid": "valid.zip", "test": "test.zip", "challenge": "challenge.zip"},
    ),
    "jersey-2023": SoccerNetTask(
        "SoccerNet/SN-Jersey-2023",
        {"train": "train.zip", "test": "test.zip", "challenge": "challenge.zip"},
    ),
}

KNOWN_MISTAKES = {"camera-calibration": "calibration-2023"}

CALIBRATION_TASK = "calibration-2023"
IGNORED_CLASSES = ("Goal unknown", "Line unknown")
"""Classes of SoccerNet's pitch model that are not pitch markings: skipped, with a count."""
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_NETWORK_ERROR_NAMES = {
    "TransportError",
    "NetworkError",
    "ConnectError",
    "ConnectTimeout",
    "ReadTimeout",
    "ReadError",
    "RemoteProtocolError",
    "ChunkedEncodingError",
    "ProtocolError",
    "LocalEntryNotFoundError",
    "ConnectionError",
    "Timeout",
}


def validate_task(task: str, splits: Sequence[str]) -> SoccerNetTask:
    """The task's Hub layout; a ``ValueError`` naming the valid choices for a wrong task or split."""
    if task not in TASKS:
        if task in KNOWN_MISTAKES:
            hint = f" Use '{KNOWN_MISTAKES[task]}': SoccerNet has no task named '{task}'."
        else:
            hint = _did_you_mean(task, TASKS)
        raise ValueError(
            f"Unknown SoccerNet task '{task}'.{hint} Valid tasks: {', '.join(TASKS)}. "
            "(The SoccerNet package itself only prints 'ERROR Unknown task' and downloads nothing.)"
        )
    spec = TASKS[task]
    if isinstance(splits, str) or not splits:
        raise ValueError(
            f"splits must be a non-empty list of split names, e.g. ['train', 'valid'], not {splits!r}"
        )
    for split in splits:
        if split not in spec.zips:
            raise ValueError(
                f"'{split}' is not a split of {task}.{_did_you_mean(split, spec.zips)} "
                f"Valid splits: {', '.join(spec.zips)}."
            )
    return spec


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return f" Did you mean '{close[0]}'?" if close else ""


def download_task(
    task: str, splits: Sequence[str], root: Path, password: str | None = None
) -> dict[str, Path]:
    """Download the split zips of ``task`` into ``root/<task>/``; returns split -> zip path.

    Safe to run again at any time: zips already complete are not downloaded again (the Hub is
    asked for the current revision only), damaged leftovers are removed and fetched afresh.
    ``password`` is passed on to the package, which ignores it for data served by the Hub.
    """
    zips, _ = _download(task, splits, Path(root), password)
    return zips


def _download(
    task: str, splits: Sequence[str], root: Path, password: str | None
) -> tuple[dict[str, Path], list[str]]:
    """The zips by split and the names of those this call actually downloaded."""
    spec = validate_task(task, splits)
    splits = list(dict.fromkeys(splits))
    task_dir = root / task
    zips = {split: task_dir / spec.zips[split] for split in splits}
    _remove_damaged_leftovers(zips.values())
    _remove_stale_partial_downloads(task_dir)
    before = {path: _identity(path) for path in zips.values()}
    _call_soccernet(task, splits, root, password, spec.repo_id)
    downloaded = [path.name for path in zips.values() if _identity(path) != before[path]]
    for split, path in zips.items():
        _check_arrived(path, split, task, spec.repo_id)
    if downloaded:
        print(f"{task}: downloaded {', '.join(downloaded)} to {task_dir}")
    else:
        names = ", ".join(path.name for path in zips.values())
        print(f"{task}: {names} already complete in {task_dir}, nothing downloaded")
    return zips, downloaded


def _identity(path: Path) -> tuple[int, int, int] | None:
    if not path.exists():
        return None
    info = path.stat()
    return info.st_ino, info.st_size, info.st_mtime_ns


def _remove_damaged_leftovers(paths: Iterable[Path]) -> None:
    """Delete zips that cannot be opened: the Hub client would otherwise keep them as complete."""
    for path in paths:
        if path.exists() and (reason := check_zip(path)):
            path.unlink()
            print(f"Removed damaged {path} ({reason}); it will be downloaded again.")


def _remove_stale_partial_downloads(task_dir: Path) -> None:
    """Delete the Hub client's ``*.incomplete`` files left by a killed runtime: they are never reused."""
    stale = list((task_dir / ".cache" / "huggingface" / "download").glob("*.incomplete"))
    if stale:
        freed = sum(path.stat().st_size for path in stale)
        for path in stale:
            path.unlink(missing_ok=True)
        print(f"Removed {len(stale)} unfinished download(s) from an earlier run ({freed / 1e6:.1f} MB).")


def _call_soccernet(task: str, splits: list[str], root: Path, password: str | None, repo_id: str) -> None:
    from SoccerNet.Downloader import SoccerNetDownloader

    options = {} if password is None else {"password": password}
    try:
        SoccerNetDownloader(LocalDirectory=str(root)).downloadDataTask(task=task, split=splits, **options)
    except Exception as err:
        translated = _explain_download_error(err, task, repo_id)
        if translated is None:
            raise
        raise translated from err


def _explain_download_error(err: Exception, task: str, repo_id: str) -> Exception | None:
    """An error that says what to do, for the failures a Colab user meets; None to keep ``err``."""
    status = _http_status(err)
    page = f"https://huggingface.co/datasets/{repo_id}"
    token = (
        "give this runtime your Hugging Face access token: in Colab add a Secret named HF_TOKEN "
        "(key icon on the left, allow notebook access), elsewhere set the HF_TOKEN environment "
        "variable; then run again."
    )
    rerun = (
        "It is safe to run this cell again: zips already complete are kept and any that was "
        "interrupted is downloaded again from the start."
    )
    if any(type(link).__name__ == "GatedRepoError" for link in _chain(err)):
        return PermissionError(f"{repo_id} is gated: open {page}, log in and accept its terms, then {token}")
    if status == 401 or (status is None and isinstance(err, PermissionError)):
        return PermissionError(
            f"The Hugging Face Hub wants a login to download {task} from {repo_id} (HTTP {status or '?'}): "
            f"{token} If {page} asks you to accept terms, do that first."
        )
    if status == 403:
        return PermissionError(
            f"The Hugging Face Hub refused access to {repo_id} (HTTP 403): accept the dataset's terms at "
            f"{page} with the account your token belongs to, or use a token allowed to read it; {token}"
        )
    if status == 404:
        return FileNotFoundError(
            f"The Hub has no such file or repository ({repo_id}) for {task} (HTTP 404). The dataset may "
            "have moved: upgrade the package (pip install -U SoccerNet) and run again."
        )
    if status is not None and (status == 429 or status >= 500):
        return ConnectionError(f"The Hub answered HTTP {status} for {repo_id} (trouble on its side). {rerun}")
    if status is not None:
        return RuntimeError(f"The Hub answered HTTP {status} for {repo_id}: {_innermost(err)}. {rerun}")
    if _is_network_failure(err):
        return ConnectionError(
            f"Downloading {task} from {repo_id} failed: the Hub could not be reached or the connection "
            f"dropped ({_innermost(err)}). {rerun}"
        )
    return None


def _chain(err: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _http_status(err: BaseException) -> int | None:
    for link in _chain(err):
        status = getattr(getattr(link, "response", None), "status_code", None)
        if isinstance(status, int):
            return status
    return None


def _is_network_failure(err: BaseException) -> bool:
    """By class name, so it holds for both the httpx- and requests-based huggingface_hub releases."""
    return any(
        isinstance(link, (ConnectionError, TimeoutError))
        or any(cls.__name__ in _NETWORK_ERROR_NAMES for cls in type(link).__mro__)
        for link in _chain(err)
    )


def _innermost(err: BaseException) -> str:
    *_, last = _chain(err)
    return f"{type(last).__name__}: {last}".splitlines()[0]


def _check_arrived(path: Path, split: str, task: str, repo_id: str) -> None:
    if not path.exists():
        raise FileNotFoundError(
            f"{path.name} ({task}, split '{split}') did not arrive in {path.parent}: the Hub repo {repo_id} "
            "has no such file at its current revision, or the Hub could not be reached. Check your "
            "connection and run again; if it persists, upgrade SoccerNet (pip install -U SoccerNet)."
        )
    if reason := check_zip(path):
        raise RuntimeError(
            f"{path} arrived damaged ({reason}). Run this cell again: it will be removed and fetched again."
        )


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

    Raises :class:`CorruptJSONError` (not JSON), :class:`MalformedAnnotationError` (not a dict of
    class -> list of {"x", "y"} numbers) or :class:`UnknownClassError` (a name outside the 26
    classes and :data:`IGNORED_CLASSES`).
    """
    try:
        content = json.loads(Path(path).read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CorruptJSONError(f"{path}: {err}") from err
    if not isinstance(content, dict):
        raise MalformedAnnotationError(f"{path}: expected an object of classes, got {type(content).__name__}")
    unknown = sorted(name for name in content if name not in CLASS_NAMES and name not in IGNORED_CLASSES)
    if unknown:
        raise UnknownClassError(Path(path), unknown)
    ignored: Counter[str] = Counter()
    annotation = {}
    for name, points in content.items():
        if name in IGNORED_CLASSES:
            ignored[name] += 1
            continue
        if not isinstance(points, list) or not all(_is_point(p) for p in points):
            raise MalformedAnnotationError(f"{path}: '{name}' is not a list of {{'x', 'y'}} points")
        annotation[name] = [(float(p["x"]), float(p["y"])) for p in points]
    return annotation, ignored


def _is_point(point: object) -> bool:
    return isinstance(point, dict) and all(
        isinstance(point.get(axis), (int, float))
        and not isinstance(point.get(axis), bool)
        and math.isfinite(point[axis])
        for axis in ("x", "y")
    )


def image_is_readable(path: Path) -> bool:
    """True when OpenCV decodes the image and, for JPEG/PNG, the file is not cut short.

    OpenCV decodes a truncated JPEG without error (the missing part comes out grey), so the
    end-of-image marker is checked as well.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            handle.seek(max(path.stat().st_size - 32, 0))
            tail = handle.read().rstrip(b"\x00\r\n ")
    except OSError:
        return False
    suffix = path.suffix.lower()
    if suffix in (".jpg", ".jpeg") and not tail.endswith(b"\xff\xd9"):
        return False
    if suffix == ".png" and not tail.endswith(b"IEND\xaeB`\x82"):
        return False
    return cv2.imread(str(path), cv2.IMREAD_REDUCED_GRAYSCALE_8) is not None


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


def prepare_calibration(
    root: Path, splits: Sequence[str], zip_dir: Path | None = None, download: bool = True
) -> dict[str, CalibrationSplitReport]:
    """Download (what is missing), extract to local disk and verify calibration-2023 splits.

    Extracted splits land in ``root/calibration-2023/<split>/``; zips are kept in ``zip_dir``
    (default ``root/zips``; pass a Drive folder to keep them across sessions, mind the 15 GB
    quota). A second run downloads and extracts nothing and says so.
    """
    root = Path(root)
    if _on_google_drive(root):
        raise ValueError(
            f"Extract to the runtime's local disk (e.g. /content/data), not to Drive ({root}): reading "
            "thousands of small files from Drive is very slow. Keep only the zips on Drive (zip_dir=...)."
        )
    spec = validate_task(CALIBRATION_TASK, splits)
    zip_dir = Path(zip_dir) if zip_dir is not None else root / "zips"
    if download:
        zips, downloaded = _download(CALIBRATION_TASK, splits, zip_dir, password=None)
    else:
        zips = {split: zip_dir / CALIBRATION_TASK / spec.zips[split] for split in dict.fromkeys(splits)}
        downloaded = []
        missing = [str(path) for path in zips.values() if not path.is_file()]
        if missing:
            raise FileNotFoundError(
                f"Missing {', '.join(missing)}: run with download=True or copy the zips there."
            )
    extracted = 0
    reports = {}
    for split, zip_path in zips.items():
        extract = extract_zip(zip_path, root / CALIBRATION_TASK, split=split)
        extracted += extract.extracted
        print(extract.summary())
        reports[split] = verify_calibration_split(extract.split_dir)
        print(reports[split].summary())
    if not downloaded and not extracted:
        print("Everything was already in place: nothing downloaded, nothing extracted.")
    return reports


def _on_google_drive(path: Path) -> bool:
    parts = Path(path).expanduser().absolute().parts
    return parts[:3] == ("/", "content", "drive") or "MyDrive" in parts or "Shareddrives" in parts
