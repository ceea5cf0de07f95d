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

from colab_utils.config import ConfigError
from colab_utils.errors import DataError
from colab_utils.holdout import HELD_OUT, held_out_names
from colab_utils.models.detr.gamestate import LABELS_FILE, read_gamestate_clip
from colab_utils.models.detr.mot import (
    GT_FILE,
    SEQINFO,
    Clip,
    ClipFormatError,
    ClipUnlabelled,
    clip_folders,
    read_mot_clip,
)
from colab_utils.models.detr.synthetic.dataset import GAMESTATE, TRACKING, generate_detection_dataset
from colab_utils.soccernet.download import validate_task
from colab_utils.soccernet.splits import data_source_root, prepare_split_zips
from colab_utils.soccernet.verify import image_is_readable, read_manifest, write_manifest
from colab_utils.soccernet.zip_place import download_zip_dir

READERS: dict[str, tuple[str, Callable[[Path], Clip]]] = {
    TRACKING: (SEQINFO, read_mot_clip),
    GAMESTATE: (LABELS_FILE, read_gamestate_clip),
}
LABELS_ELSEWHERE = (
    "SoccerNet keeps some labels out of the public zips: its package lists tracking-2023's test labels "
    "as the split 'test_labels' (test2023-private.zip, in the private Hugging Face dataset "
    "SoccerNet/SN-GroundTruth: ask SoccerNet for access) and keeps the challenge labels for its "
    f"evaluation server. Put each clip's {GT_FILE.as_posix()} into its folder to score it."
)


@dataclass(frozen=True)
class VerifiedSplit:
    """The clips of an extracted split that can be used, and the frames of each to leave out."""

    split_dir: Path
    dataset: str
    unreadable: dict[str, list[int]]  # clip folder name -> frames whose image does not decode
    summary: str
    unlabelled: list[str]  # clip folders without labels (no gt/gt.txt): nothing to train on or score


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
    unreadable, skipped_clips, unlabelled, roles = {}, [], [], Counter()
    frames = missing = bad = 0
    reasons: Counter[str] = Counter()
    examples: list[str] = []
    for folder in folders:
        try:
            clip = reader(folder)
        except ClipUnlabelled:
            unlabelled.append(folder.name)
            continue
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
    if unlabelled:
        parts.append(f"{len(unlabelled)} clip(s) without labels ({GT_FILE.as_posix()} missing), not used")
    strays = sorted(p.name for p in Path(split_dir).iterdir() if p.is_dir() and p not in folders)
    if strays:
        parts.append(f"{len(strays)} folder(s) without {marker} skipped: {', '.join(strays[:3])}")
    if not unreadable:
        parts.append(f"no usable clip: expected folders holding {marker}")
        if unlabelled:
            parts.append(LABELS_ELSEWHERE)
    return VerifiedSplit(Path(split_dir), dataset, unreadable, "; ".join(parts), unlabelled)


def write_verified_manifest(verified: VerifiedSplit) -> VerifiedSplit:
    """Keep what verification found beside the split: later sessions start without reading it again."""
    content = {
        "dataset": verified.dataset,
        "summary": verified.summary,
        "unreadable": verified.unreadable,
        "unlabelled": verified.unlabelled,
    }
    write_manifest(verified.split_dir, content)
    return verified


def load_verified_split(split_dir: Path) -> VerifiedSplit:
    content = read_manifest(split_dir)
    return VerifiedSplit(
        Path(split_dir),
        content["dataset"],
        content["unreadable"],
        content["summary"],
        content.get("unlabelled", []),  # manifests written before unlabelled clips were counted
    )


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


def training_splits(cfg: DictConfig) -> list[str]:
    """The splits training reads: the training split, and the validation split unless that is clips
    held out of the training split (``data.val_split: heldout``); never the test split."""
    data = cfg.data
    if data.val_split == data.get("test_split"):
        raise ConfigError(
            f"data.val_split={data.val_split!r} is also data.test_split: the split that chooses the best "
            f"weights must not be the one reported as test. Use data.val_split={HELD_OUT} (every "
            "data.heldout_every-th training clip) or another labelled split (valid for gamestate-2024)."
        )
    held_out = data.val_split == HELD_OUT
    return list(dict.fromkeys([data.train_split, *([] if held_out else [data.val_split])]))


def prepare(cfg: DictConfig, splits: Sequence[str] | None = None) -> str:
    """Download or generate, extract and verify ``splits`` (default: the splits training reads)."""
    data, root = cfg.data, source_root(cfg)
    splits = list(splits or training_splits(cfg))
    if data.source == "synthetic":
        s = data.synthetic
        zip_dir = root / "zips"
        spec = validate_task(data.dataset, splits)
        # validating on the training split (overfitting checks) must not shrink it to the valid count
        wanted = {k: int(s.clips.train if k == data.train_split else s.clips.valid) for k in splits}
        missing = {k: n for k, n in wanted.items() if not (zip_dir / data.dataset / spec.zips[k]).exists()}
        if missing:
            width, height = (int(v) for v in s.frame_size)
            generate_detection_dataset(
                zip_dir,
                missing,
                int(s.frames),
                int(s.seed),
                width,
                height,
                datasets=[data.dataset],
                camera_mix=dict(s.cameras),
                players_per_team=list(s.players_per_team),
            )
            print(
                f"Generated synthetic {data.dataset} clips: {missing}, {s.frames} frames of {width}x{height}"
            )
        reports = prepare_detection(root, data.dataset, splits, zip_dir=zip_dir, download=False)
    else:
        zip_dir = download_zip_dir(cfg, root, data.dataset, splits)
        reports = prepare_detection(root, data.dataset, splits, zip_dir=zip_dir, download=True)
    return "\n".join(report.summary for report in reports.values())


def labelled_clips(cfg: DictConfig, split: str) -> list[Clip]:
    """The usable clips of one prepared split: those with labels; perhaps none."""
    return read_clips(load_verified_split(source_root(cfg) / cfg.data.dataset / split))


def split_clips(cfg: DictConfig, split: str) -> list[Clip]:
    """The usable clips of one prepared split; a :class:`DataError` when there is none."""
    clips = labelled_clips(cfg, split)
    if not clips:
        verified = load_verified_split(source_root(cfg) / cfg.data.dataset / split)
        why = f" ({LABELS_ELSEWHERE})" if verified.unlabelled else ": rerun the data step"
        raise DataError(f"{verified.split_dir} has no usable clip{why}.")
    return clips


def _holds_out_training_clips(cfg: DictConfig) -> bool:
    """``data.val_split: heldout`` on SoccerNet's or the generator's clips; a user folder's data step
    has already split off its validation clips (:mod:`colab_utils.models.detr.folder`)."""
    return cfg.data.val_split == HELD_OUT and cfg.data.source != "folder"


def training_clips(cfg: DictConfig) -> tuple[list[Clip], list[Clip]]:
    """(clips trained on, clips that choose the best weights): with ``data.val_split: heldout`` the
    second are every ``data.heldout_every``-th training clip by name, and are never trained on."""
    train = split_clips(cfg, cfg.data.train_split)
    if not _holds_out_training_clips(cfg):
        return train, split_clips(cfg, cfg.data.val_split)
    held = set(held_out_names([clip.name for clip in train], int(cfg.data.heldout_every)))
    return [c for c in train if c.name not in held], [c for c in train if c.name in held]


def selection_note(cfg: DictConfig) -> str:
    """One line on which clips choose the best weights and which split is kept for the final test."""
    data = cfg.data
    if data.source == "folder":
        return "Best weights chosen on the validation clips of your folder."
    if data.val_split == HELD_OUT:
        _, held = training_clips(cfg)
        chosen = (
            f"{len(held)} clip(s) held out of {data.train_split} (one in {data.heldout_every}, by name: "
            f"{', '.join(c.name for c in held[:6])}{', ...' if len(held) > 6 else ''}), never trained on"
        )
    else:
        chosen = f"the {data.val_split} split"
    test = data.get("test_split")
    kept = f"; {test} is kept for evaluate(cfg, split={test!r}), once, at the end" if test else ""
    return f"Best weights chosen on {chosen}{kept}."
