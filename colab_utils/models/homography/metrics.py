"""argus metrics of predicted ground homographies: error in metres on the pitch, official score.

Both take the prediction's ``homography`` (pitch metres -> input pixels, NaN where the
keypoints allowed no fit) and the target's true one in the same pixels.

Reprojection error: for each frame, the grid points the true homography shows inside the
image are sent to pixels by it and back to the pitch by the predicted one (see
:func:`~colab_utils.models.homography.fit.reprojection_errors`); the frame's mean, median and
max over those points are its errors. Over the frames:

* ``reproj_mean_m``: mean of the frames' mean errors, over the frames that got a fit;
* ``reproj_median_m``: median of the frames' median errors, a frame without a fit counting as
  infinitely wrong, so a model cannot lower it by abstaining (it stays finite while fewer
  than half the frames fail);
* ``reproj_max_m``: the largest error of any point of any fitted frame;
* ``fit_rate``: frames with a fit / frames with a true homography.

Frames without a true homography (the annotation does not pin one down) are not counted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from argus.engine import State
from argus.metrics import Metric

from colab_utils.calibration.frames import homography_to_frame
from colab_utils.calibration.metrics import CameraScore
from colab_utils.geometry.calibrate import camera_from_homography
from colab_utils.geometry.camera import Camera
from colab_utils.geometry.metric import EVAL_HEIGHT, EVAL_WIDTH
from colab_utils.models.homography.fit import pitch_grid, reprojection_errors


class ReprojectionError(Metric):
    """Error of the predicted homographies in metres on the pitch (see the module's docstring)."""

    name = "reprojection"
    better = "min"

    def __init__(self, input_size: Sequence[int], grid_step_m: float = 1.0) -> None:
        super().__init__()
        self.image_size = (int(input_size[0]), int(input_size[1]))
        self.grid = pitch_grid(grid_step_m)
        self.reset()

    def reset(self) -> None:
        self.means: list[float] = []
        self.medians: list[float] = []
        self.maxima: list[float] = []
        self.frames = 0

    def update(self, step_output: dict) -> None:
        predicted = step_output["prediction"]["homography"].float().cpu()
        true = step_output["target"]["homography"].float().cpu()
        fitted = torch.isfinite(predicted).all(dim=(1, 2))
        safe = torch.where(fitted[:, None, None], predicted, torch.eye(3))
        errors, seen = reprojection_errors(safe, true, self.grid, self.image_size)
        for frame_errors, frame_seen, frame_fitted in zip(errors, seen, fitted, strict=True):
            if not frame_seen.any():
                continue
            self.frames += 1
            if not frame_fitted:
                self.medians.append(float("inf"))
                continue
            kept = frame_errors[frame_seen]
            self.means.append(float(kept.mean()))
            self.medians.append(float(kept.median()))
            self.maxima.append(float(kept.max()))

    def compute(self) -> dict[str, float]:
        if not self.frames:
            return {
                key: float("nan") for key in ("reproj_mean_m", "reproj_median_m", "reproj_max_m", "fit_rate")
            }
        return {
            "reproj_mean_m": float(np.mean(self.means)) if self.means else float("nan"),
            "reproj_median_m": float(np.median(self.medians)),
            "reproj_max_m": float(np.max(self.maxima)) if self.maxima else float("nan"),
            "fit_rate": len(self.means) / self.frames,
        }

    def epoch_complete(self, state: State) -> None:
        prefix = f"{state.phase}_" if state.phase else ""
        for key, value in self.compute().items():
            state.metrics[f"{prefix}{key}"] = value


def eval_homographies(step_output: dict) -> np.ndarray:
    """Predicted homographies (B, 3, 3) into the 960x540 pixels SoccerNet's metric works in."""
    target = step_output["target"]
    frame = homography_to_frame(
        step_output["prediction"]["homography"].double().cpu(), target["scale"].double()
    )
    to_eval = (torch.tensor([EVAL_WIDTH, EVAL_HEIGHT], dtype=torch.float64) - 1) / (
        target["frame_size"].double() - 1
    )  # SoccerNet scales annotations by size - 1
    scale = torch.diag_embed(torch.cat([to_eval, torch.ones_like(to_eval[:, :1])], dim=1))
    return (scale @ frame).numpy()


class HomographyScore(CameraScore):
    """SoccerNet's calibration metric of the cameras recovered from the predicted homographies
    (focal length and pose, principal point at the centre: ``camera_from_homography``)."""

    name = "homography_score"

    def cameras(self, step_output: dict) -> list[Camera | None]:
        return [
            camera_from_homography(h, EVAL_WIDTH, EVAL_HEIGHT) if np.isfinite(h).all() else None
            for h in eval_homographies(step_output)
        ]
