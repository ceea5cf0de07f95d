"""``data.source=folder`` for detr: your clips in MOT, SoccerNet Game State or COCO detection format.

MOT clips (tracking-2023's layout) and Game State clips are linked into the split views as they
are. A COCO detection file (what CVAT, Label Studio and Roboflow export) is turned into Game State
clips, the COCO-like format SoccerNet already uses: one clip per image folder and size, each box
its own track, category names mapped to our roles by ``data.class_map``. Boxes of a category that
is neither mapped nor one of :data:`~colab_utils.models.detr.mot.ROLES` are counted and skipped.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

from omegaconf import DictConfig, OmegaConf

from colab_utils.config import ConfigError
from colab_utils.errors import DataError
from colab_utils.files import write_atomically
from colab_utils.holdout import hold_out
from colab_utils.models.detr.gamestate import LABELS_FILE
from colab_utils.models.detr.mot import GT_FILE, ROLES, SEQINFO
from colab_utils.models.detr.source import load_verified_split, verify_split, write_verified_manifest
from colab_utils.models.detr.synthetic.dataset import GAMESTATE, TRACKING
from colab_utils.user_folder import (
    expected,
    fingerprint,
    link,
    prepare_views,
    safe_name,
    split_folders,
    stage,
)

LAYOUTS = (
    "MOT clips as SoccerNet tracking-2023 writes them (<clip>/img1/000001.jpg, <clip>/gt/gt.txt, "
    "<clip>/gameinfo.ini, <clip>/seqinfo.ini), SoccerNet Game State clips (<clip>/Labels-GameState.json "
    "+ <clip>/img1/), or COCO detection JSON (annotations/*.json with images, annotations and "
    "categories, boxes [x, y, w, h]), optionally under train/ and valid/"
)


def _clip_dirs(folder: Path, marker: str | Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and (p / marker).is_file())


def _roles(cfg: DictConfig) -> dict[str, str]:
    """``data.class_map`` checked: every value must be one of our roles."""
    mapping = cfg.data.get("class_map")
    mapping = OmegaConf.to_container(mapping, resolve=True) if mapping else {}
    wrong = {name: role for name, role in mapping.items() if role not in ROLES}
    if wrong:
        raise ConfigError(f"data.class_map maps {wrong}: each name must map to one of {', '.join(ROLES)}.")
    return {str(name): str(role) for name, role in mapping.items()}


class CocoConversion:
    """COCO detection files -> Game State clip folders, with what could not be used counted."""

    def __init__(self, class_map: dict[str, str]) -> None:
        self.class_map = class_map
        self.unknown: Counter[str] = Counter()
        self.unreadable_files: list[str] = []
        self.missing_images = 0

    def role(self, name: str) -> str | None:
        role = self.class_map.get(name, name.strip().lower())
        return role if role in ROLES else None

    def convert(self, folder: Path, out: Path) -> list[str]:
        """Write one clip per (annotation file, image folder, size) under ``out``; the clip names."""
        clips: list[str] = []
        for path in sorted(folder.rglob("*.json")):
            if path.name == LABELS_FILE or any(part.startswith(".") for part in path.parts):
                continue
            content = self._read(path)
            if content is not None:
                clips += self._clips(content, path, folder, out)
        return clips

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            content = json.loads(path.read_bytes())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
            self.unreadable_files.append(f"{path.name} ({err})")
            return None
        lists = ("images", "annotations", "categories")
        if not isinstance(content, dict) or not all(isinstance(content.get(k), list) for k in lists):
            self.unreadable_files.append(f"{path.name} (not COCO: no images, annotations, categories)")
            return None
        return content

    def _image(self, file_name: str, annotation_file: Path, folder: Path) -> Path | None:
        """Where an image named in a COCO file is: beside it, in ``images/`` or from the folder's top."""
        relative = PurePosixPath(file_name.replace("\\", "/"))
        bases = (annotation_file.parent, annotation_file.parent.parent / "images", folder, folder / "images")
        for base in bases:
            for candidate in (base / relative, base / relative.name):
                if candidate.is_file():
                    return candidate
        return None

    def _clips(self, content: dict[str, Any], path: Path, folder: Path, out: Path) -> list[str]:
        names = {c.get("id"): str(c.get("name")) for c in content["categories"] if isinstance(c, dict)}
        groups: dict[tuple[str, int, int, str], list[tuple[dict[str, Any], Path]]] = {}
        for image in content["images"]:
            try:
                file_name, size = str(image["file_name"]), (int(image["width"]), int(image["height"]))
            except (KeyError, TypeError, ValueError):
                self.missing_images += 1
                continue
            found = self._image(file_name, path, folder)
            if found is None:
                self.missing_images += 1
                continue
            parent = str(PurePosixPath(file_name.replace("\\", "/")).parent)
            groups.setdefault((parent, *size, found.suffix.lower()), []).append((image, found))
        by_image: dict[Any, list[dict[str, Any]]] = {}
        for annotation in content["annotations"]:
            if isinstance(annotation, dict):
                by_image.setdefault(annotation.get("image_id"), []).append(annotation)
        clips, per_folder = [], Counter(key[0] for key in groups)
        for (parent, width, height, suffix), images in sorted(groups.items(), key=lambda item: item[0]):
            name = safe_name(path.stem if parent == "." else f"{path.stem}_{parent}")
            if per_folder[parent] > 1:  # images of several sizes in one folder: a clip per size
                name += f"_{width}x{height}_{suffix[1:]}"
            self._write_clip(out / name, images, by_image, names, width, height, suffix)
            clips.append(name)
        return clips

    def _write_clip(
        self,
        clip: Path,
        images: list[tuple[dict[str, Any], Path]],
        by_image: dict[Any, list[dict[str, Any]]],
        names: dict[Any, str],
        width: int,
        height: int,
        suffix: str,
    ) -> None:
        entries, annotations = [], []
        for frame, (image, found) in enumerate(sorted(images, key=lambda item: str(item[1])), 1):
            link(found, clip / "img1" / f"{frame:06d}{suffix}")
            name = f"{frame:06d}{suffix}"
            entries.append({"image_id": frame, "file_name": name, "width": width, "height": height})
            for annotation in by_image.get(image.get("id"), []):
                category = names.get(annotation.get("category_id"), str(annotation.get("category_id")))
                role = self.role(category)
                if role is None:
                    self.unknown[category] += 1
                    continue
                annotations.append(_gamestate_box(annotation, frame, role, len(annotations) + 1))
        labels = {
            "info": {"name": clip.name, "im_dir": "img1", "seq_length": len(entries), "im_ext": suffix},
            "images": entries,
            "annotations": annotations,
            "categories": [],
        }
        write_atomically(clip / LABELS_FILE, json.dumps(labels))

    def note(self) -> str:
        parts = []
        if self.unknown:
            tally = ", ".join(f"{name!r} x{count}" for name, count in sorted(self.unknown.items()))
            parts.append(
                f"{sum(self.unknown.values())} box(es) of unknown classes skipped: {tally} "
                f"(map a name to one of {', '.join(ROLES)} with data.class_map)"
            )
        if self.unreadable_files:
            parts.append(
                f"{len(self.unreadable_files)} unreadable annotation file(s) skipped: "
                + " | ".join(self.unreadable_files[:3])
            )
        if self.missing_images:
            parts.append(f"{self.missing_images} COCO image(s) not found or without a size skipped")
        return "COCO: " + "; ".join(parts) if parts else ""


def _gamestate_box(annotation: dict[str, Any], frame: int, role: str, track_id: int) -> dict[str, Any]:
    """A COCO box ``[x, y, w, h]`` as a Game State object annotation; a malformed box is passed on
    as it is, for the Game State reader to count and skip."""
    box = annotation.get("bbox")
    values = box if isinstance(box, list) and len(box) == 4 else [math.nan] * 4
    return {
        "id": track_id,
        "image_id": frame,
        "track_id": track_id,
        "supercategory": "object",
        "attributes": {"role": role},
        "bbox_image": dict(zip(("x", "y", "w", "h"), values, strict=True)),
    }


def _split_clips(folder: Path, out: Path, coco: CocoConversion) -> tuple[str, dict[str, Path]]:
    """(dataset reader, {clip name: clip folder}) of one split of the user's folder."""
    for marker, dataset in ((GT_FILE, TRACKING), (SEQINFO, TRACKING), (LABELS_FILE, GAMESTATE)):
        found = _clip_dirs(folder, marker)
        if found:
            return dataset, {clip.name: clip for clip in found}
    names = coco.convert(folder, out)
    if not names and not coco.unreadable_files:
        raise DataError(f"No clip and no COCO file in {folder}: {expected(LAYOUTS)}")
    return GAMESTATE, {name: out / name for name in names}


def prepare_folder(cfg: DictConfig) -> str:
    """The data step for ``data.source=folder``: stage, split by clip, link and verify; its summary."""
    staged = stage(cfg, LAYOUTS)
    train_dir, valid_dir = split_folders(staged.data, cfg)
    train_split, val_split = str(cfg.data.train_split), str(cfg.data.val_split)
    splits = list(dict.fromkeys([train_split, val_split]))
    coco = CocoConversion(_roles(cfg))
    datasets: dict[str, str] = {}

    def build(task_dir: Path) -> str:
        converted = staged.root / "coco-clips"
        dataset, train = _split_clips(train_dir, converted / "train", coco)
        if valid_dir is not None:
            valid_dataset, valid = _split_clips(valid_dir, converted / "valid", coco)
            note = f"Validation: {valid_dir.name}/ of data.folder."
        elif val_split == train_split:
            valid_dataset, valid, note = dataset, {}, "Validating on the training clips."
        else:
            held, note = hold_out(train, "clips")
            valid_dataset, valid = dataset, {name: train.pop(name) for name in sorted(held)}
        datasets.update({train_split: dataset, val_split: valid_dataset})
        for split, clips in ((train_split, train), (val_split, valid)):
            (task_dir / split).mkdir(exist_ok=True)
            for name, clip in clips.items():
                link(clip, task_dir / split / name)
        return " ".join(part for part in (note, coco.note()) if part)

    key = fingerprint(staged.data, splits, _roles(cfg))
    return prepare_views(
        staged,
        str(cfg.data.dataset),
        splits,
        key,
        build,
        lambda split_dir: write_verified_manifest(verify_split(split_dir, datasets[split_dir.name])),
        load_verified_split,
    )
