"""Download SkillCorner's open data (https://github.com/SkillCorner/opendata) to local disk.

Each match is ``data/matches/<id>/`` with ``<id>_match.json``, ``<id>_tracking_extrapolated.jsonl``
and ``<id>_phases_of_play.csv``. The tracking files are Git LFS objects: GitHub's raw address
(raw.githubusercontent.com) answers with the LFS *pointer*, a few lines naming the object's
sha256 and size, and the object itself comes from media.githubusercontent.com. So every file
is asked for at the raw address first; a pointer is followed to the media address and the
object checked against the pointer's size and sha256. When GitHub serves a pointer there too
(its LFS bandwidth quota is spent), the error says so and what to do.

Safe to run again at any time: finished files are recorded in ``downloads.json`` (size and
sha256) and not fetched again, a file cut by a killed runtime is only ever a ``.part`` that
the next run replaces, and the list of matches is kept locally after the first run, so a
second run needs no network at all. Plain ``urllib``: nothing to install in Colab.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from colab_utils.errors import DownloadFailed, DownloadMissing, DownloadRefused, DownloadUnavailable
from colab_utils.tracking.skillcorner import LFS_SIGNATURE, LfsPointerError, MatchFiles

REPOSITORY = "https://github.com/SkillCorner/opendata"
RAW_URL = "https://raw.githubusercontent.com/SkillCorner/opendata/master"
MEDIA_URL = "https://media.githubusercontent.com/media/SkillCorner/opendata/master"
MATCH_LIST = "data/matches.json"
MANIFEST = "downloads.json"
CHUNK = 1 << 20


def match_folder(root: Path, match_id: int) -> Path:
    return Path(root) / "data" / "matches" / str(match_id)


def download_matches(
    root: Path,
    match_ids: Sequence[int] | None = None,
    raw_url: str = RAW_URL,
    media_url: str = MEDIA_URL,
    timeout: float = 60.0,
    retries: int = 3,
) -> list[MatchFiles]:
    """Fetch the matches (those of ``data/matches.json`` if ``match_ids`` is None) into ``root``."""
    root = Path(root)
    fetcher = _Fetcher(root, raw_url.rstrip("/"), media_url.rstrip("/"), timeout, retries)
    ids = list(match_ids) if match_ids is not None else listed_match_ids(fetcher)
    found = []
    for match_id in ids:
        names = [f"{match_id}_match.json", f"{match_id}_tracking_extrapolated.jsonl"]
        for name in names:
            fetcher.get(f"data/matches/{match_id}/{name}")
        fetcher.get(f"data/matches/{match_id}/{match_id}_phases_of_play.csv", required=False)
        found.append(MatchFiles.in_folder(match_folder(root, match_id), match_id))
    done = (
        f"downloaded {fetcher.fetched} file(s), {fetcher.bytes / 1e6:.1f} MB"
        if fetcher.fetched
        else "nothing"
    )
    print(f"SkillCorner open data: {len(found)} match(es) in {root / 'data' / 'matches'} ({done} this time).")
    return found


def listed_match_ids(fetcher: _Fetcher) -> list[int]:
    """Match ids of the repository's ``data/matches.json`` (the local copy once there is one)."""
    explain = (
        f"pass match ids explicitly (data.match_ids), the names of the folders in {REPOSITORY}"
        "/tree/master/data/matches, e.g. [1886347]."
    )
    try:
        entries = json.loads(fetcher.get(MATCH_LIST).read_text())
        ids = sorted({int(entry["id"]) for entry in entries})
    except FileNotFoundError:
        raise DownloadMissing(
            f"The repository has no {MATCH_LIST} listing its matches: {explain}"
        ) from None
    except (ValueError, TypeError, KeyError) as error:
        raise DownloadFailed(
            f"{MATCH_LIST} is not a list of matches with an 'id' ({error}): {explain}"
        ) from None
    if not ids:
        raise DownloadFailed(f"{MATCH_LIST} lists no match: {explain}")
    return ids


class _Fetcher:
    """Fetches repository files into ``root`` (raw address, then LFS media address), with a manifest."""

    def __init__(self, root: Path, raw_url: str, media_url: str, timeout: float, retries: int) -> None:
        self.root, self.raw_url, self.media_url = root, raw_url, media_url
        self.timeout, self.retries = timeout, retries
        self.manifest_path = root / MANIFEST
        self.manifest = json.loads(self.manifest_path.read_text()) if self.manifest_path.exists() else {}
        self.fetched = 0
        self.bytes = 0

    def complete(self, relative: str) -> bool:
        entry, path = self.manifest.get(relative), self.root / relative
        return entry is not None and path.is_file() and path.stat().st_size == entry["size"]

    def get(self, relative: str, required: bool = True) -> Path | None:
        """The local copy of ``relative`` (fetched unless the manifest says it is complete)."""
        path = self.root / relative
        if self.complete(relative):
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        try:
            size, digest = self._download(f"{self.raw_url}/{relative}", part)
        except FileNotFoundError:
            if required:
                raise
            print(f"{relative}: not in the repository (older releases lack it); skipped.")
            return None
        pointer = _read_pointer(part)
        if pointer is not None:
            size, digest = self._follow_pointer(relative, part, pointer)
        part.replace(path)
        self.manifest[relative] = {"size": size, "sha256": digest}
        partial = self.manifest_path.with_name(MANIFEST + ".part")
        partial.write_text(json.dumps(self.manifest, indent=1))
        partial.replace(self.manifest_path)
        self.fetched += 1
        self.bytes += size
        return path

    def _follow_pointer(self, relative: str, part: Path, pointer: dict[str, str]) -> tuple[int, str]:
        url = f"{self.media_url}/{relative}"
        want_size, want_oid = int(pointer.get("size", -1)), pointer.get("oid", "").removeprefix("sha256:")
        size, digest = self._download(url, part)
        if _read_pointer(part) is not None:
            part.unlink()
            raise LfsPointerError(
                f"GitHub sent a Git LFS pointer instead of {relative} (a {want_size / 1e6:.0f} MB "
                f"object), from the raw address and again from {url}. SkillCorner keeps its tracking "
                "files in Git LFS, and GitHub answers with the pointer when it will not serve the object, "
                "typically because the repository's monthly LFS bandwidth quota is used up. What to do: "
                "run this cell again later (files already complete are kept); or fetch the match with "
                f"Git LFS on a machine that can: `git lfs install && git clone {REPOSITORY} && cd opendata "
                f"&& git lfs pull --include '{Path(relative).parent}/*'`, then copy that folder to "
                f"{self.root / Path(relative).parent}; or set data.source=synthetic to train on generated "
                "matches meanwhile."
            )
        if size != want_size or digest != want_oid:
            part.unlink()
            raise DownloadFailed(
                f"{relative} arrived damaged from {url}: {size:,} bytes with sha256 {digest[:12]}..., "
                f"but its Git LFS pointer names {want_size:,} bytes with sha256 {want_oid[:12]}.... "
                "Run again: it is fetched anew."
            )
        return size, digest

    def _download(self, url: str, part: Path) -> tuple[int, str]:
        """Stream ``url`` into ``part``; (size, sha256). Retries dropped connections and server errors."""
        for attempt in range(self.retries + 1):
            try:
                return _stream(url, part, self.timeout)
            except urllib.error.HTTPError as error:
                if error.code == 404:
                    raise DownloadMissing(
                        f"{url} does not exist (HTTP 404): check the match id against {REPOSITORY}"
                        "/tree/master/data/matches, or pass match ids the repository lists."
                    ) from None
                if error.code in (401, 403, 429) and attempt == self.retries:
                    raise DownloadRefused(
                        f"GitHub refused {url} (HTTP {error.code}): too many requests from this runtime, "
                        "or the repository's LFS bandwidth quota is used up. Wait a while and run again; "
                        "files already complete are kept."
                    ) from None
                if error.code < 500 and error.code not in (403, 429):
                    raise
                failure: Exception = error
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as error:
                failure = error
            if attempt == self.retries:
                raise DownloadUnavailable(
                    f"Could not download {url} after {self.retries + 1} tries ({failure}). Check the "
                    "runtime's internet connection and run again: files already complete are kept."
                ) from failure
            time.sleep(min(2**attempt, 8))
        raise AssertionError("unreachable")


def _stream(url: str, part: Path, timeout: float) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    request = urllib.request.Request(url, headers={"User-Agent": "colab_utils"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(part, "wb") as handle:
        expected = response.headers.get("Content-Length")
        while chunk := response.read(CHUNK):
            handle.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    if expected is not None and int(expected) != size:
        raise ConnectionError(f"the connection closed after {size:,} of {int(expected):,} bytes")
    return size, digest.hexdigest()


def _read_pointer(path: Path) -> dict[str, str] | None:
    """The ``key value`` lines of a Git LFS pointer file, or None if ``path`` holds real data."""
    with open(path, "rb") as handle:
        head = handle.read(1024)
    if not head.startswith(LFS_SIGNATURE):
        return None
    lines = head.decode("utf-8", "replace").splitlines()
    return dict(line.split(" ", 1) for line in lines if " " in line)
