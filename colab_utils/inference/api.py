"""``predict(weights, inputs)``: a trained model on your own frames, from the exported .pth alone.

The portable file (:mod:`colab_utils.portable`) holds the weights, the config they were trained
with and what inference needs, so no run folder, dataset or checkpoint is involved: the
network is rebuilt from the stored config by the task's predictor
(:mod:`colab_utils.inference`), the weights are loaded strictly, and the inputs (image files,
a folder, arrays) are read, run and returned as a
:class:`~colab_utils.inference.base.Prediction` (``.show()``, ``.save(folder)``, a summary).
A video given alone to a frame-level model (calibration, detr) is streamed instead, into an
annotated mp4 (:mod:`colab_utils.inference.video`).

    prediction = predict("sportlight_hrnet57-default.pth", "my_frames/")
    prediction.show()
    prediction.save("predictions")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from colab_utils.engine.trainer import CHECKPOINT_FORMAT
from colab_utils.inference.base import Prediction, Predictor
from colab_utils.inference.video import VideoPrediction, predict_video, single_video
from colab_utils.portable import PORTABLE_FORMAT
from colab_utils.registry import predictor_class

HELD_FRAMES = 100  # frames read into memory when max_frames is not given (images, folders)
HOW_TO_EXPORT = (
    "Give the exported .pth: the export step (8.) of the model's notebook writes "
    "<run folder>/export/<model>-<run>.pth and downloads it, or run `python -m colab_utils export <model>`."
)


def open_weights(path: str | Path) -> dict[str, Any]:
    """The portable payload in ``path``; ValueError saying which file to give when it is not one."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{path} is not a file. {HOW_TO_EXPORT}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for files that are not its own
        raise ValueError(f"{path} is not a weights file torch can open safely. {HOW_TO_EXPORT}") from error
    if isinstance(payload, dict) and payload.get("format") == PORTABLE_FORMAT:
        return payload
    if isinstance(payload, dict) and payload.get("format") == CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} is a training checkpoint (best.pth or step-*.pth of a run folder), not the exported "
            f"weights. {HOW_TO_EXPORT}"
        )
    raise ValueError(f"{path} is not a colab_utils portable weights file. {HOW_TO_EXPORT}")


def load_predictor(
    weights: str | Path,
    model: str | None = None,
    device: str | torch.device | None = None,
    smooth: float = 0.0,
    **options: Any,
) -> Predictor:
    """The predictor of the model in ``weights``, ready to run on ``device`` (default: the GPU if any).

    ``model``, when given, must be the model the file holds (a check against picking the wrong
    file); ``options`` go to the task's predictor (e.g. ``min_confidence`` for calibration).
    ``smooth`` goes to the models that find a camera (calibration); the others say they leave it out,
    so that one notebook setting serves every model.
    """
    payload = open_weights(weights)
    if model and payload["model"] != model:
        raise ValueError(
            f"{weights} holds the {payload['model']!r} model, not {model!r}: give the .pth exported by the "
            f"{model} notebook, or leave the model out."
        )
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    found = predictor_class(payload["task"])
    if smooth and not found.smooths_cameras:
        print(f"smooth={smooth} left out: it averages calibration cameras; {payload['model']} has none.")
    elif smooth:
        options["smooth"] = smooth
    return found(payload, device, **options)


def predict(
    weights: str | Path,
    inputs: Any,
    *,
    model: str | None = None,
    device: str | torch.device | None = None,
    every: int = 1,
    max_frames: int | None = None,
    video_out: str | Path | None = None,
    progress: bool = True,
    smooth: float = 0.0,
    **options: Any,
) -> Prediction | VideoPrediction:
    """Run the model exported in ``weights`` on ``inputs`` and return its :class:`Prediction`.

    ``inputs``: an image file, a folder (its images and videos, sorted by name), a video, an
    RGB uint8 array (H, W, 3) or a list of these. Videos keep every ``every``-th frame. Frames
    are held in memory, so at most ``max_frames`` are read in all (default 100); unreadable
    files are skipped and reported.

    One video for a frame-level model (calibration, detr) is streamed instead, with a progress
    bar (``progress``) and memory that does not grow with its length: the whole video unless
    ``max_frames`` is given, drawn into the mp4 ``video_out`` (default: a temporary folder; the
    result's ``save`` copies it), returned as a :class:`VideoPrediction` whose ``show()`` plays
    it. ``smooth`` (0 to below 1; 0: off) averages a calibration model's cameras over the frames,
    in their order (:mod:`colab_utils.calibration.smoothing`); ``options`` go to the model's predictor.
    """
    predictor = load_predictor(weights, model=model, device=device, smooth=smooth, **options)
    video = single_video(inputs)
    if video is not None and predictor.streams_video:
        prediction = predict_video(
            predictor, video, every=every, max_frames=max_frames, out=video_out, progress=progress
        )
    else:
        prediction = predictor.predict(inputs, every=every, max_frames=max_frames or HELD_FRAMES)
    print(prediction.summary())
    return prediction
