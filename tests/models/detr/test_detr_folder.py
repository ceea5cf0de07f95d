"""data.source=folder for detr: the user's clips in MOT, SoccerNet Game State and COCO detection
format, each with a truncated JPEG and an unknown class, trained one epoch and evaluated; the
counts are in the data step's summary; a zip is extracted once; no valid/ holds out whole clips."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from colab_utils.config import ConfigError, load_config
from colab_utils.errors import DataError
from colab_utils.models.detr import source as detr_source
from colab_utils.pipeline import evaluate, prepare_data, train
from colab_utils.soccernet import archives

WIDTH, HEIGHT, FRAMES = 96, 54, 4
BOXES = [(1, "player", (10, 12, 8, 20)), (2, "referee", (50, 10, 8, 20)), (3, "coach", (80, 5, 6, 18))]


def _jpeg(path: Path, seed: int, truncated: bool = False) -> None:
    image = np.random.default_rng(seed).integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    data = cv2.imencode(".jpg", image)[1].tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: len(data) // 2] if truncated else data)


def mot_clip(folder: Path, name: str, truncate: bool) -> None:
    """A clip as tracking-2023 writes it; ``coach`` is not a role gameinfo.ini may name."""
    clip = folder / name
    for frame in range(1, FRAMES + 1):
        _jpeg(clip / "img1" / f"{frame:06d}.jpg", frame, truncated=truncate and frame == 2)
    (clip / "seqinfo.ini").write_text(
        f"[Sequence]\nname={name}\nimDir=img1\nframeRate=25\nseqLength={FRAMES}\n"
        f"imWidth={WIDTH}\nimHeight={HEIGHT}\nimExt=.jpg\n"
    )
    tracklets = {"player": "player team left;10", "referee": "referee;main", "coach": "coach;1"}
    lines = [f"trackletID_{i}= {tracklets[role]}" for i, role, _ in BOXES]
    header = f"[Sequence]\nname={name}\nnum_tracklets=3\n"
    (clip / "gameinfo.ini").write_text(header + "\n".join(lines) + "\n")
    rows = [
        f"{f},{i},{x},{y},{w},{h},1,-1,-1,-1" for f in range(1, FRAMES + 1) for i, _, (x, y, w, h) in BOXES
    ]
    (clip / "gt").mkdir()
    (clip / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")


def gamestate_clip(folder: Path, name: str, truncate: bool) -> None:
    """A clip as gamestate-2024 writes it; the role ``coach`` is not SoccerNet's."""
    clip = folder / name
    images, annotations = [], []
    for frame in range(1, FRAMES + 1):
        _jpeg(clip / "img1" / f"{frame:06d}.jpg", frame, truncated=truncate and frame == 2)
        image_id = f"1{frame:09d}"
        images.append({"image_id": image_id, "file_name": f"{frame:06d}.jpg", "height": HEIGHT,
                       "width": WIDTH, "is_labeled": True, "has_labeled_person": True})
        for track_id, role, (x, y, w, h) in BOXES:
            annotations.append({
                "id": f"{image_id}{track_id}", "image_id": image_id, "track_id": track_id,
                "supercategory": "object", "category_id": 1,
                "attributes": {"role": role, "jersey": "10", "team": "left" if role == "player" else None},
                "bbox_image": {"x": x, "y": y, "w": w, "h": h, "x_center": x + w / 2, "y_center": y + h / 2},
            })  # fmt: skip
    info = {"name": name, "im_dir": "img1", "frame_rate": 25, "seq_length": FRAMES, "im_ext": ".jpg"}
    labels = {"info": info, "images": images, "annotations": annotations, "categories": []}
    (clip / "Labels-GameState.json").write_text(json.dumps(labels))


def coco_export(folder: Path, clips: list[str]) -> None:
    """What CVAT exports: ``annotations/instances_default.json`` + ``images/<clip>/...``, with the
    category names of a COCO-trained model (person, sports ball) and one that maps to nothing."""
    categories = [{"id": 1, "name": "person"}, {"id": 2, "name": "Referee"}, {"id": 3, "name": "coach"}]
    images, annotations = [], []
    for number, clip in enumerate(clips):
        for frame in range(1, FRAMES + 1):
            image_id = len(images) + 1
            file_name = f"{clip}/frame_{frame:04d}.jpg"
            _jpeg(folder / "images" / file_name, frame, truncated=number == 0 and frame == 2)
            images.append({"id": image_id, "file_name": file_name, "width": WIDTH, "height": HEIGHT})
            for category, (_, _, box) in enumerate(BOXES, 1):
                annotations.append(
                    {"id": len(annotations) + 1, "image_id": image_id, "category_id": category,
                     "bbox": list(box), "area": box[2] * box[3], "iscrowd": 0}
                )  # fmt: skip
    content = {"images": images, "annotations": annotations, "categories": categories}
    (folder / "annotations").mkdir(parents=True)
    (folder / "annotations" / "instances_default.json").write_text(json.dumps(content))


def _cfg(folder: Path, *overrides: str):
    return load_config(
        "detr",
        "smoke",
        [
            "data.source=folder",
            f"data.folder={folder}",
            "data.val_split=valid",
            "data.frames_per_clip={train: 2, valid: 2}",
            "train.epochs=1",
            "data.num_workers=0",
            "logging.progress=false",
            *overrides,
        ],
        verbose=False,
    )


def _train_and_evaluate(cfg) -> None:
    result = train(cfg)
    assert result.epochs_done == 1 and result.global_step >= 1
    assert "val_map" in evaluate(cfg).metrics


def test_mot_clips_in_a_zip_train_and_evaluate_and_the_zip_is_extracted_once(folders, monkeypatch):
    folder = folders["tmp"] / "my_clips"
    for index, split in enumerate(("train", "train", "valid")):
        mot_clip(folder / split, f"SNMOT-{index:03d}", truncate=index == 0)
    mot_clip(folder / "train", "SNMOT-099", truncate=False)
    (folder / "train" / "SNMOT-099" / "seqinfo.ini").unlink()  # a clip folder the reader cannot place
    zip_path = Path(shutil.make_archive(str(folders["drive"] / "MyDrive" / "my_clips"), "zip", folder))
    extractions = []
    real_extract = archives.extract_zip
    monkeypatch.setattr(
        "colab_utils.user_folder.extract_zip", lambda *a, **k: extractions.append(a) or real_extract(*a, **k)
    )
    cfg = _cfg(zip_path)
    summary = prepare_data(cfg)
    assert "Validation: valid/ of data.folder" in summary
    assert "train: 2 clips, 7 frames, 14 boxes (player 7, referee 7)" in summary
    assert "valid: 1 clips, 4 frames, 8 boxes" in summary
    assert "1 frame(s) without a readable image skipped" in summary  # the truncated JPEG
    # the coach: its gameinfo.ini entry and each of its boxes are reported and left out
    assert "2 unreadable tracklet in gameinfo.ini" in summary and "8 track id not in gameinfo.ini" in summary
    assert "unknown role in 'coach;1'" in summary
    assert "1 folder(s) without seqinfo.ini skipped: SNMOT-099" in summary
    assert prepare_data(cfg) and len(extractions) == 1
    _train_and_evaluate(cfg)


def test_gamestate_clips_without_a_valid_split_hold_out_a_whole_clip(folders):
    folder = folders["tmp"] / "gamestate"
    for index in range(3):
        gamestate_clip(folder, f"SNGS-{index:03d}", truncate=index == 0)
    cfg = _cfg(folder)
    summary = prepare_data(cfg)
    assert "held out 1 of 3 clips" in summary
    assert sum(int(n) for n in re.findall(r"(\d+) unknown role 'coach'", summary)) == 3 * FRAMES
    assert "1 frame(s) without a readable image skipped" in summary
    dataset = str(cfg.data.dataset)
    train_clips = detr_source.load_verified_split(detr_source.source_root(cfg) / dataset / "train").unreadable
    valid_clips = detr_source.load_verified_split(detr_source.source_root(cfg) / dataset / "valid").unreadable
    assert len(train_clips) == 2 and len(valid_clips) == 1 and set(train_clips).isdisjoint(valid_clips)
    _train_and_evaluate(cfg)


def test_coco_json_with_a_class_map_trains_and_counts_the_unknown_class(folders):
    folder = folders["tmp"] / "cvat_export"
    coco_export(folder, ["clip_a", "clip_b", "clip_c"])
    (folder / "annotations" / "broken.json").write_text('{"images": [')
    cfg = _cfg(folder, "data.class_map={person: player}")
    summary = prepare_data(cfg)
    assert "held out 1 of 3 clips" in summary
    assert "12 box(es) of unknown classes skipped: 'coach' x12" in summary
    assert "1 unreadable annotation file(s) skipped: broken.json" in summary
    assert "1 frame(s) without a readable image skipped" in summary
    boxes = sum(int(n) for n in re.findall(r"^(?:train|valid): .*? (\d+) boxes", summary, re.MULTILINE))
    assert boxes == 2 * (3 * FRAMES - 1)  # person (as player) and referee on every readable frame
    _train_and_evaluate(cfg)


def test_wrong_layouts_and_class_maps_say_what_is_expected(folders):
    folder = folders["tmp"] / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("my clips")
    with pytest.raises(DataError, match="MOT clips"):
        prepare_data(_cfg(folder))
    coco_export(folders["tmp"] / "coco", ["a", "b"])
    with pytest.raises(ConfigError, match="one of player, goalkeeper"):
        prepare_data(_cfg(folders["tmp"] / "coco", "data.class_map={person: athlete}"))
