"""A synthetic SoccerNet tracking-2023 and gamestate-2024 download: real layouts, known boxes.

Each clip (a :class:`~colab_utils.models.detr.synthetic.scenes.Scene`) is rendered once and
written in both formats, zipped the way SoccerNet's archives are, so the same downloader,
extractor and readers serve it:

* ``tracking-2023/<split>.zip``: ``<split>/SNMOT-XXX/`` with ``seqinfo.ini``,
  ``gameinfo.ini`` (``trackletID_N= player team left;10`` ...), ``gt/gt.txt``
  (``frame,id,left,top,width,height,1,-1,-1,-1``), ``det/det.txt`` and ``img1/000001.jpg`` ...
* ``gamestate-2024/<split>.zip``: ``SNGS-XXX/`` with ``Labels-GameState.json`` (info,
  images, annotations of supercategory object / pitch / camera, categories) and ``img1/``.

Tracking has no "valid" split and gamestate has one: a split goes into every dataset that
has it. Clip ``i`` of a split is drawn from its own seed (seed, split, i), so the same call
writes identical bytes and the two datasets show the same scenes. The boxes written are
returned (:class:`GeneratedClip`) so tests can compare what the readers find.
"""

from __future__ import annotations

import argparse
import json
import os
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from colab_utils.geometry.rays import pixel_rays, plane_depth
from colab_utils.models.detr.synthetic.scenes import PLAYERS_PER_TEAM, Entity, Scene, SceneFrame
from colab_utils.soccernet.download import TASKS
from colab_utils.synthetic.annotate import annotate

TRACKING, GAMESTATE = "tracking-2023", "gamestate-2024"
SPLIT_DIGIT = {"train": 1, "valid": 2, "test": 3, "challenge": 4}  # SoccerNet's image_id prefix
CATEGORIES = ({"supercategory": "object", "id": 1, "name": "player"},)
CATEGORIES += ({"supercategory": "object", "id": 2, "name": "goalkeeper"},)
CATEGORIES += ({"supercategory": "object", "id": 3, "name": "referee"},)
CATEGORIES += ({"supercategory": "object", "id": 4, "name": "ball"},)
CATEGORIES += ({"supercategory": "pitch", "id": 5, "name": "pitch"},)
CATEGORIES += ({"supercategory": "camera", "id": 6, "name": "camera"},)
CATEGORY_ID = {c["name"]: c["id"] for c in CATEGORIES}
JPEG_QUALITY = 90
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class GeneratedClip:
    """What one clip holds: its names in both datasets, who is in it, and the boxes by frame."""

    split: str
    number: int
    entities: tuple[Entity, ...]
    boxes: dict[int, dict[int, tuple[int, int, int, int]]]  # frame -> track id -> left, top, w, h

    @property
    def tracking_name(self) -> str:
        return f"SNMOT-{self.number:03d}"

    @property
    def gamestate_name(self) -> str:
        return f"SNGS-{self.number:03d}"


@dataclass(frozen=True)
class GeneratedDetection:
    root: Path
    zips: dict[str, dict[str, Path]]  # dataset -> split -> zip
    clips: dict[str, list[GeneratedClip]]  # split -> clips


def clip_rng(seed: int, split: str, index: int, stream: int = 0) -> np.random.Generator:
    """Stream 0 draws the scene; stream 1 the annotator's clicks on the pitch lines (gamestate only)."""
    return np.random.default_rng([seed, zlib.crc32(split.encode()), index, 0x4D07, stream])


def clip_number(split: str, index: int) -> int:
    """SoccerNet numbers clips across splits; here train 1.., valid 101.., test 201.., challenge 301.."""
    return 100 * (SPLIT_DIGIT[split] - 1) + index + 1


def _add(archive: zipfile.ZipFile, name: str, data: bytes, compress: int = zipfile.ZIP_DEFLATED) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = compress
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def _seqinfo(name: str, frames: int, fps: float, width: int, height: int) -> str:
    lines = [f"name={name}", "imDir=img1", f"frameRate={fps:g}", f"seqLength={frames}"]
    lines += [f"imWidth={width}", f"imHeight={height}", "imExt=.jpg"]
    return "[Sequence]\n" + "\n".join(lines) + "\n"


def tracklet_text(entity: Entity) -> str:
    """The ``trackletID_N`` value SoccerNet writes for this entity."""
    if entity.role == "player":
        return f" player team {entity.team};{entity.jersey}"
    if entity.role == "goalkeeper":
        return f" goalkeepers team {entity.team};{entity.jersey}"
    return f" {entity.role};{entity.detail}"


def _gameinfo(name: str, number: int, frames: int, fps: float, entities: Sequence[Entity]) -> str:
    start_ms = 60_000 * (number % 45)
    stop_ms = start_ms + round(1000 * frames / fps)
    lines = [f"name={name}", f"gameID={number % 12 + 1}"]
    lines += [f"gameTimeStart=1 - {start_ms // 60000:02d}:{start_ms // 1000 % 60:02d}"]
    lines += [f"gameTimeStop=1 - {stop_ms // 60000:02d}:{stop_ms // 1000 % 60:02d}"]
    lines += [f"clipStart={start_ms}", f"clipStop={stop_ms}", f"actionPosition={start_ms + 1000}"]
    lines += ["actionClass=Synthetic play", "visibility=visible", f"num_tracklets={len(entities)}"]
    lines += [f"trackletID_{e.track_id}={tracklet_text(e)}" for e in entities]
    return "[Sequence]\n" + "\n".join(lines) + "\n"


def _gt_lines(boxes: Mapping[int, Mapping[int, tuple[int, ...]]], with_ids: bool) -> str:
    rows = []
    for frame, found in boxes.items():
        for track_id, (left, top, w, h) in found.items():
            rows.append(f"{frame},{track_id if with_ids else -1},{left},{top},{w},{h},1,-1,-1,-1")
    return "\n".join(rows) + "\n"


class _GameStateJSON:
    """Builds one clip's Labels-GameState.json as the frames go by."""

    def __init__(self, split: str, number: int, frames: int, fps: float, entities: Sequence[Entity]) -> None:
        self.prefix = f"{SPLIT_DIGIT[split]}{number:03d}"
        self.entities = {e.track_id: e for e in entities}
        self.info = {
            "version": "1.3",
            "game_id": str(number % 12 + 1),
            "id": f"{number:03d}",
            "num_tracklets": str(len(entities)),
            "action_class": "Synthetic play",
            "visibility": "visible",
            "name": f"SNGS-{number:03d}",
            "im_dir": "img1",
            "frame_rate": fps,
            "seq_length": frames,
            "im_ext": ".jpg",
        }
        self.images: list[dict] = []
        self.annotations: list[dict] = []

    def _next_id(self) -> str:
        return f"{self.prefix}{len(self.annotations) + 1:06d}"

    def add(self, frame: SceneFrame, rng: np.random.Generator) -> None:
        height, width = frame.image.shape[:2]
        image_id = f"{self.prefix}{frame.number:06d}"
        self.images.append(
            {
                "is_labeled": True,
                "image_id": image_id,
                "file_name": f"{frame.number:06d}.jpg",
                "height": height,
                "width": width,
                "has_labeled_person": True,
                "has_labeled_pitch": True,
                "has_labeled_camera": True,
                "ignore_regions_y": [],
                "ignore_regions_x": [],
            }
        )
        for track_id, (left, top, w, h) in frame.boxes.items():
            entity = self.entities[track_id]
            self.annotations.append(
                {
                    "id": self._next_id(),
                    "image_id": image_id,
                    "track_id": track_id,
                    "supercategory": "object",
                    "category_id": CATEGORY_ID[entity.role],
                    "attributes": {
                        "role": entity.role,
                        "jersey": entity.jersey,
                        "team": entity.team,
                    },
                    "bbox_image": {
                        "x": left,
                        "y": top,
                        "x_center": left + w / 2,
                        "y_center": top + h / 2,
                        "w": w,
                        "h": h,
                    },
                    "bbox_pitch": _bbox_pitch(frame, track_id),
                }
            )
        lines = annotate(frame.camera, rng, width, height)
        self.annotations.append(
            {
                "id": self._next_id(),
                "image_id": image_id,
                "supercategory": "pitch",
                "category_id": 5,
                "lines": lines,
            }
        )
        camera = frame.camera.to_json()
        self.annotations.append(
            {
                "id": self._next_id(),
                "image_id": image_id,
                "supercategory": "camera",
                "category_id": 6,
                "parameters": camera,
            }
        )

    def dump(self) -> bytes:
        content = {
            "info": self.info,
            "images": self.images,
            "annotations": self.annotations,
            "categories": list(CATEGORIES),
        }
        return json.dumps(content, indent=1).encode()


def _bbox_pitch(frame: SceneFrame, track_id: int) -> dict[str, float]:
    """Pitch metres under the box's bottom corners (seen through the camera) and under the figure."""
    left, top, w, h = frame.boxes[track_id]
    rays = pixel_rays(frame.camera, np.array([[left, top + h], [left + w, top + h]], dtype=float))
    depth = plane_depth(np.repeat(frame.camera.position[None], 2, axis=0), rays, 0.0)
    corners = frame.camera.position + depth[:, None] * rays
    middle = frame.ground[track_id]
    return {
        "x_bottom_left": float(corners[0, 0]),
        "y_bottom_left": float(corners[0, 1]),
        "x_bottom_right": float(corners[1, 0]),
        "y_bottom_right": float(corners[1, 1]),
        "x_bottom_middle": float(middle[0]),
        "y_bottom_middle": float(middle[1]),
    }


def _write_clip(
    archives: Mapping[str, zipfile.ZipFile],
    split: str,
    index: int,
    seed: int,
    frames: int,
    fps: float,
    size: tuple[int, int],
    camera_mix: Mapping[str, float] | None,
    players_per_team: tuple[int, int],
) -> GeneratedClip:
    rng, clicks = clip_rng(seed, split, index), clip_rng(seed, split, index, stream=1)
    number = clip_number(split, index)
    scene = Scene(rng, frames, fps, size[0], size[1], camera_mix, players_per_team)
    clip = GeneratedClip(split, number, tuple(scene.entities), {})
    mot = f"{split}/{clip.tracking_name}"
    labels = _GameStateJSON(split, number, frames, fps, scene.entities)
    for frame in scene.frames():
        ok, jpeg = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise RuntimeError(f"JPEG encoding failed for {clip.tracking_name} frame {frame.number}")
        if TRACKING in archives:
            _add(archives[TRACKING], f"{mot}/img1/{frame.number:06d}.jpg", jpeg.tobytes(), zipfile.ZIP_STORED)
        if GAMESTATE in archives:
            name = f"{clip.gamestate_name}/img1/{frame.number:06d}.jpg"
            _add(archives[GAMESTATE], name, jpeg.tobytes(), zipfile.ZIP_STORED)
            labels.add(frame, clicks)
        clip.boxes[frame.number] = dict(frame.boxes)
    if TRACKING in archives:
        archive = archives[TRACKING]
        _add(archive, f"{mot}/seqinfo.ini", _seqinfo(clip.tracking_name, frames, fps, *size).encode())
        _add(
            archive,
            f"{mot}/gameinfo.ini",
            _gameinfo(clip.tracking_name, number, frames, fps, scene.entities).encode(),
        )
        _add(archive, f"{mot}/gt/gt.txt", _gt_lines(clip.boxes, with_ids=True).encode())
        _add(archive, f"{mot}/det/det.txt", _gt_lines(clip.boxes, with_ids=False).encode())
    if GAMESTATE in archives:
        _add(archives[GAMESTATE], f"{clip.gamestate_name}/Labels-GameState.json", labels.dump())
    return clip


def generate_detection_dataset(
    root: Path,
    splits: Mapping[str, int],
    frames: int = 16,
    seed: int = 0,
    width: int = 960,
    height: int = 540,
    datasets: Sequence[str] = (TRACKING, GAMESTATE),
    fps: float = 25.0,
    camera_mix: Mapping[str, float] | None = None,
    players_per_team: Sequence[int] = PLAYERS_PER_TEAM,
) -> GeneratedDetection:
    """Write ``root/<dataset>/<split>.zip`` for each split (clips per split) into each dataset having it.

    ``camera_mix`` weighs the camera kinds of :mod:`~colab_utils.synthetic.cameras` (default:
    the main camera, high or low); ``players_per_team`` is the range of outfield players of each
    team in view.
    """
    crowd = (int(players_per_team[0]), int(players_per_team[1]))
    unknown = [d for d in datasets if d not in (TRACKING, GAMESTATE)]
    if unknown or not datasets:
        raise ValueError(f"datasets must be among {TRACKING}, {GAMESTATE}; got {list(datasets)}")
    for split, count in splits.items():
        if split not in SPLIT_DIGIT or count < 1 or not any(split in TASKS[d].zips for d in datasets):
            raise ValueError(f"cannot write {count} clip(s) for split {split!r} of {', '.join(datasets)}")
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    zips: dict[str, dict[str, Path]] = {d: {} for d in datasets}
    clips: dict[str, list[GeneratedClip]] = {}
    for split, count in splits.items():
        targets = {d: Path(root) / d / TASKS[d].zips[split] for d in datasets if split in TASKS[d].zips}
        for path in targets.values():
            path.parent.mkdir(parents=True, exist_ok=True)
        partial = {d: path.with_name(f"{path.name}.{os.getpid()}.part") for d, path in targets.items()}
        archives = {d: zipfile.ZipFile(path, "w") for d, path in partial.items()}
        try:
            clips[split] = [
                _write_clip(archives, split, i, seed, frames, fps, (width, height), camera_mix, crowd)
                for i in range(count)
            ]
        finally:
            for archive in archives.values():
                archive.close()
        for dataset, path in targets.items():
            os.replace(partial[dataset], path)
            zips[dataset][split] = path
    return GeneratedDetection(Path(root), zips, clips)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Write a synthetic SoccerNet tracking-2023 / gamestate-2024 download."
    )
    parser.add_argument("out_dir", type=Path, help="folder that receives tracking-2023/ and gamestate-2024/")
    for split, default in (("train", 4), ("valid", 2), ("test", 2), ("challenge", 0)):
        parser.add_argument(f"--{split}", type=int, default=default, help=f"clips in {split}.zip")
    parser.add_argument("--frames", type=int, default=16, help="frames per clip (SoccerNet's have 750)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, default=960)
    parser.add_argument("--height", type=int, default=540)
    args = parser.parse_args(argv)
    sizes = {s: getattr(args, s) for s in SPLIT_DIGIT if getattr(args, s) > 0}
    result = generate_detection_dataset(args.out_dir, sizes, args.frames, args.seed, args.width, args.height)
    for dataset, paths in result.zips.items():
        for split, path in paths.items():
            print(f"{path}: {dataset} {split}, {len(result.clips[split])} clip(s) of {args.frames} frames")


if __name__ == "__main__":
    main()
