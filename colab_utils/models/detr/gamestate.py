"""SoccerNet gamestate-2024 clips on disk: ``SNGS-XXX/Labels-GameState.json`` + ``img1/``.

The JSON is COCO-like: ``info`` (name, im_dir, frame_rate, seq_length, im_ext), ``images``
(``image_id``, ``file_name`` such as ``000001.jpg``, ``is_labeled``, ``has_labeled_person``,
width, height), ``annotations`` and ``categories``. Athletes, referees and the ball are the
annotations of supercategory ``object``: a ``track_id``, ``attributes`` (``role`` player /
goalkeeper / referee / ball / other, ``team`` left / right, ``jersey``) and ``bbox_image``
(``x``, ``y`` top-left, ``w``, ``h``, plus the centre) in frame pixels; ``pitch`` and
``camera`` annotations are not boxes and are passed over.

The result is the same :class:`~colab_utils.models.detr.mot.Clip` the tracking reader returns, so
a detector or a tracker reads either dataset alike. Annotations that cannot be used are
reported and skipped with counts, as there.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from colab_utils.models.detr.mot import (
    ROLES,
    Clip,
    ClipFormatError,
    ClipProblems,
    SequenceInfo,
    Tracklet,
    frame_boxes,
    present_images,
)

LABELS_FILE = "Labels-GameState.json"


def _info(content: dict[str, Any], folder: Path) -> SequenceInfo:
    info, images = content.get("info") or {}, content.get("images") or []
    try:
        size = (int(images[0]["width"]), int(images[0]["height"])) if images else (0, 0)
        return SequenceInfo(
            name=str(info.get("name") or folder.name),
            im_dir=str(info.get("im_dir") or "img1"),
            frame_rate=float(info.get("frame_rate") or 25),
            seq_length=int(info.get("seq_length") or len(images)),
            width=size[0],
            height=size[1],
            im_ext=str(info.get("im_ext") or ".jpg"),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ClipFormatError(f"{folder.name}/{LABELS_FILE}: malformed info or images ({err})") from err


def _labelled_frames(images: list[dict[str, Any]], problems: ClipProblems) -> dict[str, int]:
    """image_id -> frame number, for the images annotated with people."""
    frames = {}
    for image in images:
        stem = Path(str(image.get("file_name", ""))).stem
        if not stem.isdigit() or "image_id" not in image:
            problems.add("malformed image entry", f"image {str(image)[:60]}")
            continue
        if image.get("is_labeled", True) and image.get("has_labeled_person", True):
            frames[str(image["image_id"])] = int(stem)
    return frames


def _box(annotation: dict[str, Any]) -> list[float]:
    box = annotation.get("bbox_image")
    if not isinstance(box, dict):
        raise ValueError("no bbox_image")
    try:
        values = [float(box[key]) for key in ("x", "y", "w", "h")]
    except (KeyError, TypeError, ValueError):
        raise ValueError("malformed bbox_image") from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError("malformed bbox_image")
    if values[2] <= 0 or values[3] <= 0:
        raise ValueError("empty box")
    return values


def _tracklet(annotation: dict[str, Any]) -> Tracklet:
    track_id = annotation.get("track_id")
    if not isinstance(track_id, int) or isinstance(track_id, bool):
        raise ValueError("no track_id")
    attributes = annotation.get("attributes") or {}
    role = attributes.get("role")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    team = attributes.get("team") if role in ("player", "goalkeeper") else None
    jersey = attributes.get("jersey")
    return Tracklet(track_id, role, team=team, jersey=None if jersey is None else str(jersey))


def read_gamestate_clip(folder: Path) -> Clip:
    """One gamestate-2024 clip folder; ``ClipFormatError`` when its JSON is missing or not JSON."""
    folder = Path(folder)
    path = folder / LABELS_FILE
    try:
        content = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise ClipFormatError(f"{folder.name}: {LABELS_FILE} is missing") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ClipFormatError(f"{folder.name}/{LABELS_FILE}: not readable JSON ({err})") from err
    if not isinstance(content, dict) or not isinstance(content.get("annotations"), list):
        raise ClipFormatError(f"{folder.name}/{LABELS_FILE}: no annotations list")
    info = _info(content, folder)
    problems = ClipProblems()
    frame_of = _labelled_frames(content.get("images") or [], problems)
    tracklets: dict[int, Tracklet] = {}
    boxes: dict[int, dict[int, list[float]]] = {frame: {} for frame in frame_of.values()}
    for number, annotation in enumerate(content["annotations"]):
        if not isinstance(annotation, dict) or annotation.get("supercategory", "object") != "object":
            continue
        where = f"{LABELS_FILE} annotation {annotation.get('id', number)}"
        frame = frame_of.get(str(annotation.get("image_id")))
        if frame is None:
            problems.add("image not listed or not labelled", f"{where}: image {annotation.get('image_id')}")
            continue
        try:
            box, tracklet = _box(annotation), _tracklet(annotation)
        except ValueError as err:
            problems.add(str(err), f"{where}: {err}")
            continue
        known = tracklets.setdefault(tracklet.track_id, tracklet)
        if known.role != tracklet.role:
            problems.add("role changes within a track", f"{where}: {known.role} then {tracklet.role}")
            continue
        if tracklet.track_id in boxes[frame]:
            problems.add("duplicate id in a frame", f"{where}: id {tracklet.track_id} again")
            continue
        boxes[frame][tracklet.track_id] = box
    frames = {frame: frame_boxes(frame, found) for frame, found in sorted(boxes.items())}
    clip = Clip(info.name, folder, info, tracklets, frames, problems)
    images = present_images(clip)
    clip.drop_frames([frame for frame in clip.frames if frame not in images])
    return clip
