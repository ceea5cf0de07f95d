"""SoccerNet data through the official ``SoccerNet`` package: task names, download, errors.

The package (0.2.x) fetches each task's split zips from the Hugging Face Hub with
``snapshot_download``, which keeps complete files and skips them on the next run. It does
not check task names (an unknown one prints "ERROR Unknown task" and downloads nothing), it
trusts any file already in place (a zip truncated by a killed runtime or a Drive sync is kept
forever), and its errors say little about what to do. This module checks names first, removes
damaged leftovers so they are fetched again, checks what arrived, and turns the Hub's errors
into instructions.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from colab_utils.errors import DownloadFailed, DownloadMissing, DownloadRefused, DownloadUnavailable
from colab_utils.soccernet.archives import check_zip


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
    zips, _ = download_reporting(task, splits, Path(root), password)
    return zips


def download_reporting(
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
        return DownloadRefused(f"{repo_id} is gated: open {page}, log in and accept its terms, then {token}")
    if status == 401 or (status is None and isinstance(err, PermissionError)):
        return DownloadRefused(
            f"The Hugging Face Hub wants a login to download {task} from {repo_id} (HTTP {status or '?'}): "
            f"{token} If {page} asks you to accept terms, do that first."
        )
    if status == 403:
        return DownloadRefused(
            f"The Hugging Face Hub refused access to {repo_id} (HTTP 403): accept the dataset's terms at "
            f"{page} with the account your token belongs to, or use a token allowed to read it; {token}"
        )
    if status == 404:
        return DownloadMissing(
            f"The Hub has no such file or repository ({repo_id}) for {task} (HTTP 404). The dataset may "
            "have moved: upgrade the package (pip install -U SoccerNet) and run again."
        )
    if status is not None and (status == 429 or status >= 500):
        return DownloadUnavailable(
            f"The Hub answered HTTP {status} for {repo_id} (trouble on its side). {rerun}"
        )
    if status is not None:
        return DownloadFailed(f"The Hub answered HTTP {status} for {repo_id}: {_innermost(err)}. {rerun}")
    if _is_network_failure(err):
        return DownloadUnavailable(
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
        raise DownloadMissing(
            f"{path.name} ({task}, split '{split}') did not arrive in {path.parent}: the Hub repo {repo_id} "
            "has no such file at its current revision, or the Hub could not be reached. Check your "
            "connection and run again; if it persists, upgrade SoccerNet (pip install -U SoccerNet)."
        )
    if reason := check_zip(path):
        raise DownloadFailed(
            f"{path} arrived damaged ({reason}). Run this cell again: it will be removed and fetched again."
        )
