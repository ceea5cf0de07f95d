"""Where the reid crops come from: SoccerNet's reid-2023 download, the synthetic generator, or the
user's folder (:mod:`colab_utils.models.reid.folder`, into the same views and manifests).

The first two paths end the same way: split zips (``train.zip``, ``valid.zip``) extracted to local disk
and verified, with a manifest of the usable crops beside each split. The download goes through
the SoccerNet package (Hugging Face Hub), which keeps complete zips and skips them on the next
run; extraction keeps files already in place; a split that needed no extraction reuses its
earlier verification. So re-running the data step costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig

from colab_utils.errors import DataError
from colab_utils.models.reid.files import (
    VerifiedReidSplit,
    load_verified_split,
    verify_reid_split,
    write_manifest,
)
from colab_utils.models.reid.folder import prepare_folder
from colab_utils.models.reid.synthetic.dataset import REID_TASK, generate_reid_dataset
from colab_utils.soccernet.splits import data_source_root, prepare_split_zips
from colab_utils.soccernet.zip_place import download_zip_dir


def source_root(cfg: DictConfig) -> Path:
    """The local folder holding ``reid-2023/<split>/`` for this config's data source."""
    actions = cfg.data.synthetic_actions
    name = f"reid-train{actions.train}-valid{actions.valid}-seed{cfg.data.synthetic_seed}"
    return data_source_root(cfg, name)


def prepare_reid(
    root: Path, splits: Sequence[str], zip_dir: Path | None = None, download: bool = True
) -> dict[str, VerifiedReidSplit]:
    """Download (what is missing), extract to ``root/reid-2023/<split>/`` and verify the splits
    (the train zip is ~12 GB: a Drive ``zip_dir`` keeps it across sessions)."""
    return prepare_split_zips(
        REID_TASK,
        root,
        splits,
        lambda split_dir: write_manifest(verify_reid_split(split_dir)),
        load_verified_split,
        zip_dir,
        download,
    )


def prepare(cfg: DictConfig) -> str:
    """The data step: generate, download or read the user's folder, extract and verify the splits."""
    if cfg.data.source == "folder":
        return prepare_folder(cfg)
    root = source_root(cfg)
    splits = [cfg.data.train_split, cfg.data.val_split]
    if cfg.data.source == "synthetic":
        zip_dir = root / "zips"
        actions = cfg.data.synthetic_actions
        wanted = {cfg.data.val_split: int(actions.valid), cfg.data.train_split: int(actions.train)}
        if not all((zip_dir / REID_TASK / f"{split}.zip").exists() for split in wanted):
            generated = generate_reid_dataset(zip_dir, wanted, seed=int(cfg.data.synthetic_seed))
            print(f"Generated synthetic {REID_TASK} crops: {generated.counts}")
        verified = prepare_reid(root, splits, zip_dir=zip_dir, download=False)
    else:
        zip_dir = download_zip_dir(cfg, root, REID_TASK, splits)
        verified = prepare_reid(root, splits, zip_dir=zip_dir, download=True)
    return "\n".join(split.summary for split in verified.values())


def verified_split(cfg: DictConfig, split: str) -> VerifiedReidSplit:
    found = load_verified_split(source_root(cfg) / REID_TASK / split)
    if not found.crops:
        raise DataError(f"{found.split_dir} has no usable crop ({found.summary}).")
    return found
