"""Where a SoccerNet download's zips are kept: on Drive, where they outlive the runtime, when they fit.

A new Colab session starts with an empty disk, so zips kept on the runtime's disk are downloaded
again in every session (calibration 3 GB, reid 14.4 GB); zips kept on Drive are only extracted
again. ``data.zips_on_drive`` chooses: left at ``null`` (auto, the default) it keeps them on Drive
when Drive's free space holds them (``data.zips_gb``) with ``DRIVE_MARGIN_GB`` to spare for the
checkpoints; ``true`` and ``false`` force either. The choice is said once, with what a new
session will download again.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig

from colab_utils.runtime import on_google_drive
from colab_utils.soccernet.download import validate_task

DRIVE_MARGIN_GB = 4.0  # room left on Drive for checkpoints (an HRNet-W48 one is 0.8 GB, three are kept)
ASSUMED_MB_PER_S = 40.0  # a rough rate from the Hugging Face Hub to a Colab runtime, for the estimate


def drive_zip_dir(cfg: DictConfig) -> Path:
    """Beside the run folders on Drive: ``<drive>/<project>/zips``, shared by every model and run."""
    return Path(cfg.run.dir).parent.parent / "zips"


def drive_free_gb(folder: Path) -> float:
    """Free space where ``folder`` lives; on Colab's Drive mount, what is left of the Drive quota."""
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    return shutil.disk_usage(existing).free / 1e9


def _size(gb: float | None) -> str:
    if gb is None:
        return "of a size not known in advance"
    minutes = gb * 1000 / ASSUMED_MB_PER_S / 60
    return f"{gb:.1f} GB, about {max(1, round(minutes))} min to download at {ASSUMED_MB_PER_S:.0f} MB/s"


def download_zip_dir(cfg: DictConfig, root: Path, task: str, splits: Sequence[str]) -> Path:
    """The folder the zips of ``task``'s ``splits`` are downloaded to and kept in; prints why, once."""
    spec = validate_task(task, splits)
    on_drive, local = drive_zip_dir(cfg), Path(root) / "zips"
    setting, gb = cfg.data.zips_on_drive, cfg.data.get("zips_gb")
    if setting is not False and all((on_drive / task / spec.zips[s]).is_file() for s in splits):
        print(
            f"The {task} zips are kept on Drive ({on_drive / task}): nothing to download; this session "
            "only extracts them to the runtime's disk."
        )
        return on_drive
    if setting is True:
        print(
            f"Keeping the {task} zips ({_size(gb)}) on Drive in {on_drive} (data.zips_on_drive=true): a new "
            "session extracts them again instead of downloading them."
        )
        return on_drive
    if setting is False or not on_google_drive(cfg.run.dir):
        again = (
            "every new Colab session downloads them again"
            if setting is False and on_google_drive(cfg.run.dir)
            else "this machine's disk keeps them for the next run"
        )
        print(f"The {task} zips ({_size(gb)}) are kept in {local}: {again}.")
        return local
    free = drive_free_gb(on_drive)
    if gb is not None and free >= gb + DRIVE_MARGIN_GB:
        print(
            f"Keeping the {task} zips ({_size(gb)}) on Drive in {on_drive} (data.zips_on_drive unset: auto; "
            f"Drive has {free:.1f} GB free): a new session extracts them again instead of downloading them."
        )
        return on_drive
    need = "" if gb is None else f"; keeping them there needs {gb + DRIVE_MARGIN_GB:.1f} GB free"
    print(
        f"The {task} zips ({_size(gb)}) stay on the runtime's disk, which Colab empties: every new session "
        f"downloads them again. Drive has {free:.1f} GB free{need} (with {DRIVE_MARGIN_GB:.0f} GB left for "
        "checkpoints). To keep them across sessions, free space on Drive (they are then kept there by "
        "themselves) or set data.zips_on_drive=true."
    )
    return local
