"""Where a calibration model's frames come from: SoccerNet's download, the synthetic generator,
or the user's folder (:mod:`colab_utils.calibration.folder`).

The first two paths end the same way, with real-format zips extracted to local disk and verified
(``prepare_calibration``), so the synthetic smoke runs exercise the code real data takes.
The zips of a download stay on local disk unless ``data.zips_on_drive`` asks for Drive,
where they survive the runtime (mind the free 15 GB quota).
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from colab_utils.calibration.annotations import (
    CALIBRATION_TASK,
    VerifiedSplit,
    load_verified_split,
    prepare_calibration,
)
from colab_utils.calibration.folder import prepare_folder
from colab_utils.calibration.synthetic import generate_calibration_dataset
from colab_utils.config import ConfigError
from colab_utils.errors import DataError
from colab_utils.soccernet.splits import data_source_root
from colab_utils.soccernet.zip_place import download_zip_dir
from colab_utils.synthetic.cameras import KINDS

SPLIT_FRAMES = (16_463, 3_212)  # calibration-2023: training and validation frames


def source_root(cfg: DictConfig) -> Path:
    """The local folder holding ``calibration-2023/<split>/`` for this config's data source."""
    frames = cfg.data.synthetic_frames
    name = f"calibration-train{frames.train}-valid{frames.valid}-seed{cfg.data.synthetic_seed}"
    mix = camera_mix(cfg)
    if mix:
        name += "-cameras-" + "-".join(f"{kind}{weight:g}" for kind, weight in sorted(mix.items()))
    return data_source_root(cfg, name)


def camera_mix(cfg: DictConfig) -> dict[str, float] | None:
    """``data.synthetic_cameras``: how often the generator draws each kind of shot (None: its default)."""
    mix = cfg.data.get("synthetic_cameras")
    if not mix:
        return None
    unknown = sorted(set(mix) - set(KINDS))
    if unknown:
        raise ConfigError(
            f"data.synthetic_cameras names {', '.join(unknown)}: the camera kinds are {', '.join(KINDS)}."
        )
    return {str(kind): float(weight) for kind, weight in mix.items()}


def prepare(cfg: DictConfig, splits: list[str] | None = None) -> str:
    """Download, generate or read the user's folder, extract and verify ``splits`` (default: the
    train and validation splits)."""
    if cfg.data.source == "folder":
        if splits:
            raise DataError(
                f"data.source=folder holds a training and a validation split, not {', '.join(splits)}: "
                "the test split and the challenge submission are SoccerNet's (data.source=soccernet). "
                "Score your own frames with evaluate(cfg) on their validation split."
            )
        return prepare_folder(cfg)
    root = source_root(cfg)
    splits = splits or [cfg.data.train_split, cfg.data.val_split]
    if cfg.data.source == "synthetic":
        zip_dir = root / "zips"
        frames = cfg.data.synthetic_frames
        # validating on the training split (overfitting checks) must not shrink it to the valid count
        wanted = {s: int(frames.train if s == cfg.data.train_split else frames.valid) for s in splits}
        missing = {s: n for s, n in wanted.items() if not (zip_dir / CALIBRATION_TASK / f"{s}.zip").exists()}
        if missing:
            seed = int(cfg.data.synthetic_seed)
            generate_calibration_dataset(zip_dir, splits=missing, seed=seed, camera_mix=camera_mix(cfg))
            print(f"Generated synthetic {CALIBRATION_TASK} frames: {missing}")
        reports = prepare_calibration(root, splits, zip_dir=zip_dir, download=False)
    else:
        zip_dir = download_zip_dir(cfg, root, CALIBRATION_TASK, splits)
        reports = prepare_calibration(root, splits, zip_dir=zip_dir, download=True)
    return "\n".join(report.summary for report in reports.values())


def prepared_split(cfg: DictConfig, split: str) -> VerifiedSplit:
    """What the data step found in ``split``: labelled pairs, and images without labels (perhaps all)."""
    return load_verified_split(source_root(cfg) / CALIBRATION_TASK / split)


def verified_split(cfg: DictConfig, split: str) -> VerifiedSplit:
    split = prepared_split(cfg, split)
    if not split.pairs:
        raise DataError(f"{split.split_dir} has no usable image/annotation pair ({split.summary}).")
    return split
