"""Where the detector's clips come from: SoccerNet tracking-2023 / gamestate-2024, or the generator
(the user's own folder: :mod:`colab_utils.models.detr.folder`, into the same views and manifests).

Both paths end the same way: split zips on local disk (downloaded through
:mod:`colab_utils.soccernet.download`, or written by
:mod:`colab_utils.models.detr.synthetic.dataset` in the same layout), extracted by
:func:`colab_utils.soccernet.archives.extract_zip`, then verified once: every clip is read
(bad annotation lines and frames without an image are counted and left out, an unreadable
clip is skipped) and every annotated frame's JPEG is checked, and what is usable is kept in
``<split>.verified.json`` so later sessions start at once.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from colab_utils.models.detr.gamestate import LABELS_FILE, read_gamestate_clip
from colab_utils.models.detr.mot import SEQINFO, Clip, ClipFormatError, clip_folders, read_mot_clip
from colab_utils.models.detr.synthetic.dataset import GAMESTATE, TRACKING, generate_detection_dataset
from colab_utils.soccernet.download import validate_task
from colab_utils.soccernet.splits import data_source_root, prepare_split_zips
from colab_utils.soccernet.verify import image_is_readable, read_manifest, write_manifest
from colab_utils.soccernet.zip_place import download_zip_dir

READERS: dict[str, tuple[str, Callable[[Path], Clip]]] = {
    TRACKING: (SEQINFO, read_mot_clip),
    GAMESTATE: (LABELS_FILE, read_gamestate_clip),
}


@dataclass(frozen=True)
class VerifiedSplit:
    """The clips of an extracted split that can be used, and the frames of each to leave out."""

    split_dir: Path
    dataset: str
    unreadable: dict[str, list[int]]  # clip folder name -> frames whose image does not decode
    summary: str


def _check_images(clip: Clip) -> list[int]:
    frames = sorted(clip.frames)
    workers = min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as pool:
        readable = list(pool.map(lambda f: image_is_readable(clip.image_path(f)), frames))
    return [frame for frame, ok in zip(frames, readable, strict=True) if not ok]


def verify_split(split_dir: Path, dataset: str) -> VerifiedSplit:
    """Read every clip of ``split_dir``, decode-check its annotated frames and count what was left out."""
    marker, reader = READERS[dataset]
    folders = clip_folders(split_dir, marker)
    unreadable, skipped_clips, roles = {}, [], Counter()
    frames = missing = bad = 0
    reasons: Counter[str] = Counter()
    examples: list[str] = []
    for folder in folders:
        try:
            clip = reader(folder)
        except ClipFormatError as err:
            skipped_clips.append(str(err))
            continue
        unreadable[folder.name] = broken = _check_images(clip)
        clip.drop_frames(broken)
        frames += len(clip.frames)
        missing += len(clip.problems.missing_images)
        bad += clip.problems.bad_lines
        reasons.update(clip.problems.reasons)
        examples += clip.problems.examples[: max(0, 3 - len(examples))]
        for frame in clip.frames:
            roles.update(clip.roles(frame))
    parts = [f"{split_dir.name}: {len(unreadable)} clips, {frames:,} frames, {sum(roles.values()):,} boxes"]
    if roles:
        parts[0] += " (" + ", ".join(f"{role} {count:,}" for role, count in sorted(roles.items())) + ")"
    if bad:
        why = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
        parts.append(f"{bad} bad annotation(s) skipped: {why}; e.g. {' | '.join(examples)}")
    if missing:
        parts.append(f"{missing} frame(s) without a readable image skipped")
    if skipped_clips:
        parts.append(f"{len(skipped_clips)} unreadable clip(s) skipped: {' | '.join(skipped_clips[:3])}")
    if not unreadable:
        parts.append(f"no usable clip: expected folders holding {marker}")
    return VerifiedSplit(Path(split_dir), dataset, unreadable, "; ".join(parts))


def write_verified_manifest(verified: VerifiedSplit) -> VerifiedSplit:
    """Keep what verification found beside the split: later sessions start without reading it again."""
    content = {"dataset": verified.dataset, "summary": verified.summary, "unreadable": verified.unreadable}
    write_manifest(verified.split_dir, content)
    return verified


def load_verified_split(split_dir: Path) -> VerifiedSplit:
    content = read_manifest(split_dir)
    return VerifiedSplit(Path(split_dir), content["dataset"], content["unreadable"], content["summary"])


def read_clips(verified: VerifiedSplit) -> list[Clip]:
    """The verified clips with their annotations, unreadable frames left out (annotations only: fast)."""
    _, reader = READERS[verified.dataset]
    clips = []
    for name, broken in sorted(verified.unreadable.items()):
        clip = reader(verified.split_dir / name)
        clip.drop_frames(broken)
        clips.append(clip)
    return clips


def prepare_detection(
    root: Path, dataset: str, splits: Sequence[str], zip_dir: Path | None = None, download: bool = True
) -> dict[str, VerifiedSplit]:
    """Download (what is missing), extract to ``root/<dataset>/<split>/`` and verify each split."""
    if dataset not in READERS:
        raise ValueError(f"data.dataset={dataset!r} is not one of {', '.join(READERS)}")
    return prepare_split_zips(
        dataset,
        root,
        splits,
        lambda split_dir: write_verified_manifest(verify_split(split_dir, dataset)),
        load_verified_split,
        zip_dir,
        download,
    )


def source_root(cfg: DictConfig) -> Path:
    """The local folder holding ``<dataset>/<split>/`` for this config's data source."""
    settings = json.dumps(OmegaConf.to_container(cfg.data.synthetic, resolve=True), sort_keys=True)
    digest = hashlib.sha1(settings.encode()).hexdigest()[:10]  # other settings, other folder
    return data_source_root(cfg, f"{cfg.data.dataset}-{digest}")


def prepare(cfg: DictConfig) -> str:
    """Download or generate, extract and verify the training and validation splits."""
    data, root = cfg.data, source_root(cfg)
    splits = list(dict.fromkeys([data.train_split, data.val_split]))
    if data.source == "synthetic":
        s = data.synthetic
        zip_dir = root / "zips"
        spec = validate_task(data.dataset, splits)
        # validating on the training split (overfitting checks) must not shrink it to the valid count
        wanted = {data.val_split: int(s.clips.valid), data.train_split: int(s.clips.train)}
        if not all((zip_dir / data.dataset / spec.zips[split]).exists() for split in wanted):
            width, height = (int(v) for v in s.frame_size)
            generate_detection_dataset(
                zip_dir,
                wanted,
                int(s.frames),
                int(s.seed),
                width,
                height,
                datasets=[data.dataset],
                camera_mix=dict(s.cameras),
                players_per_team=list(s.players_per_team),
            )
            print(
                f"Generated synthetic {data.dataset} clips: {wanted}, {s.frames} frames of {width}x{height}"
            )
        reports = prepare_detection(root, data.dataset, splits, zip_dir=zip_dir, download=False)
    else:
        zip_dir = download_zip_dir(cfg, root, data.dataset, splits)
        reports = prepare_detection(root, data.dataset, splits, zip_dir=zip_dir, download=True)
    return "\n".join(report.summary for report in reports.values())


def split_clips(cfg: DictConfig, split: str) -> list[Clip]:
    """The usable clips of one prepared split."""
    clips = read_clips(load_verified_split(source_root(cfg) / cfg.data.dataset / split))
    if not clips:
        raise ValueError(
            f"{source_root(cfg) / cfg.data.dataset / split} has no usable clip: rerun the data step."
        )
    return clips
