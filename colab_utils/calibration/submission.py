"""A SoccerNet calibration challenge submission from a trained calibration model.

SoccerNet scores the challenge split (images only, its labels stay with SoccerNet) on its
evaluation server. What it reads is a zip of one ``camera_<frame>.json`` per frame, at the top
of the zip: SoccerNet's own evaluator (``SoccerNet.Evaluation.CameraCalibration.evaluate``, which
the tests run on the zip written here) looks each labelled frame ``<split>/<frame>.json`` up as
``camera_<frame>.json``, and the sn-calibration README shows the same layout. A frame without
a camera file counts against completeness (the final score is completeness x Acc@5), so the
frames left without one are counted and printed.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from pathlib import Path

import cv2
import torch
from omegaconf import DictConfig

from colab_utils.calibration import source as calibration_source
from colab_utils.geometry.camera import Camera
from colab_utils.inference.api import open_weights
from colab_utils.inference.inputs import Frame
from colab_utils.portable import portable_payload
from colab_utils.registry import predictor_class

FRAMES_PER_PASS = 64  # frames held in memory at once


def submission_name(frame: str) -> str:
    """The file name SoccerNet's evaluator looks a frame's camera up by."""
    return f"camera_{frame}.json"


def write_submission(cameras: Mapping[str, Camera | None], path: Path) -> int:
    """Zip one camera JSON per frame that has a camera into ``path``; returns how many frames have none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for frame, camera in sorted(cameras.items()):
            if camera is not None:
                archive.writestr(submission_name(frame), json.dumps(camera.to_json(), indent=4))
    partial.replace(path)
    return sum(camera is None for camera in cameras.values())


def challenge_submission(
    cfg: DictConfig, weights: str | Path | None = None, split: str = "challenge"
) -> Path:
    """Cameras for every frame of ``split`` (calibration-2023's unlabelled challenge split by default),
    zipped for SoccerNet's evaluation server into ``<run>/submission/<model>-<split>.zip``.

    ``weights``: an exported ``.pth``; by default the run's best weights. The split is downloaded,
    extracted and verified like the training splits.
    """
    print(calibration_source.prepare(cfg, [split]))
    prepared = calibration_source.prepared_split(cfg, split)
    images = sorted([*prepared.unlabelled, *(image for image, _ in prepared.pairs)])
    payload = open_weights(weights) if weights is not None else portable_payload(cfg)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    predictor = predictor_class(payload["task"])(payload, device)
    cameras: dict[str, Camera | None] = {}
    unreadable = 0
    for start in range(0, len(images), FRAMES_PER_PASS):
        frames = []
        for path in images[start : start + FRAMES_PER_PASS]:
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                unreadable += 1
                cameras[path.stem] = None
            else:
                frames.append(Frame(path.stem, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), str(path)))
        cameras.update({result.name: result.camera for result in predictor.run(frames)})
    path = Path(cfg.run.dir) / "submission" / f"{cfg.run.model}-{split}.zip"
    missing = write_submission(cameras, path)
    print(
        f"{path}: {len(cameras) - missing} camera JSONs for {len(cameras)} frames of {split}; "
        f"{missing} frame(s) without a camera ({unreadable} unreadable image(s), the rest with too few "
        "keypoints for one), which count against completeness. Upload the zip to the SoccerNet "
        "calibration challenge's evaluation server (linked from soccer-net.org)."
    )
    return path
