"""Download, extract and verify the split zips of a SoccerNet task: every SoccerNet data step.

Each task brings its own verification (what a usable frame, crop or clip is) as two functions:
``verify(split_dir)`` reads every file, writes a manifest beside the split and returns its
record; ``load_verified(split_dir)`` returns the record from that manifest, or raises
``FileNotFoundError`` when there is none. A split whose zip extracted nothing new reuses its
manifest, so re-running the data step costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from omegaconf import DictConfig

from colab_utils.errors import DataError, DataNotPrepared
from colab_utils.runtime import on_google_drive
from colab_utils.soccernet.archives import extract_zip
from colab_utils.soccernet.download import download_reporting, validate_task
from colab_utils.soccernet.verify import Verified
from colab_utils.user_folder import folder_root

SOURCES = ("soccernet", "synthetic", "folder")


V = TypeVar("V", bound=Verified)


def prepare_split_zips(
    task: str,
    root: Path,
    splits: Sequence[str],
    verify: Callable[[Path], V],
    load_verified: Callable[[Path], V],
    zip_dir: Path | None = None,
    download: bool = True,
) -> dict[str, V]:
    """Download what is missing, extract to ``root/<task>/<split>/`` and verify each split.

    The splits' summaries are returned, not printed: the data step prints them once.

    Zips are kept in ``zip_dir/<task>/`` (default ``root/zips``; a Drive folder keeps them
    across sessions, mind the 15 GB quota). With ``download=False`` they must be there already
    (the synthetic generators write them there).
    """
    root = Path(root)
    if on_google_drive(root):
        raise DataError(
            f"Extract to the runtime's local disk (e.g. /content/data), not to Drive ({root}): reading "
            "thousands of small files from Drive is very slow. Only the zips may stay on Drive "
            "(data.zips_on_drive=true)."
        )
    spec = validate_task(task, splits)
    zip_dir = Path(zip_dir) if zip_dir is not None else root / "zips"
    if download:
        zips, downloaded = download_reporting(task, splits, zip_dir, password=None)
    else:
        zips = {split: zip_dir / task / spec.zips[split] for split in dict.fromkeys(splits)}
        downloaded = []
        missing = [str(path) for path in zips.values() if not path.is_file()]
        if missing:
            raise DataNotPrepared(
                f"Missing {', '.join(missing)}: run with download=True or copy the zips there."
            )
    extracted = 0
    verified: dict[str, V] = {}
    for split, zip_path in zips.items():
        extract = extract_zip(zip_path, root / task, split=split)
        extracted += extract.extracted
        print(extract.summary())
        if extract.extracted == 0:
            try:
                verified[split] = load_verified(extract.split_dir)
                print(f"{split}: verified on an earlier run")
                continue
            except FileNotFoundError:
                pass
        verified[split] = verify(extract.split_dir)
    if not downloaded and not extracted:
        print("Everything was already in place: nothing downloaded, nothing extracted.")
    return verified


def data_source_root(cfg: DictConfig, synthetic_name: str) -> Path:
    """The local folder of this config's data: ``soccernet/`` for SoccerNet's download,
    ``synthetic/<synthetic_name>`` for a generated set, whose name spells its settings so that
    other settings get another folder, or ``folder/<name>-<key>`` for the user's ``data.folder``."""
    if cfg.data.source == "synthetic":
        return Path(cfg.run.data_dir) / "synthetic" / synthetic_name
    if cfg.data.source == "soccernet":
        return Path(cfg.run.data_dir) / "soccernet"
    if cfg.data.source == "folder":
        return folder_root(cfg)
    raise DataError(
        f"data.source={cfg.data.source!r} is not one of {', '.join(SOURCES)}: soccernet downloads the "
        "dataset, synthetic generates one, folder reads yours from data.folder."
    )
