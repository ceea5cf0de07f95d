"""The ball3d loss: 3-D position + velocity + 2-D reprojection + a physics term.

* position: mean distance (m) between predicted and true ball centres, every frame (the
  network must also bridge the frames the detector missed);
* velocity: mean difference (m/s) of frame-to-frame displacements, so the track is smooth
  where the truth is and breaks where the truth does (bounces, touches);
* reprojection: mean distance (frame pixels) between the corrected track point and the
  ball's true pixel, on frames where the ball can be seen (inside the frame, not occluded);
  elsewhere the crop has nothing to localise;
* physics: on frames labelled free flight (no bounce or touch between the previous and the
  next frame), the second difference of predicted positions must equal gravity plus the
  drag of the ball's predicted velocity: ``a = (0, 0, g) - k |v| v`` (z down). Drag is not
  ignored: a 30 m/s ball decelerates at 12 m/s^2, more than g. It needs no ground truth,
  only the segment labels.

Distances are Euclidean norms (not squared): robust to the occasional huge error of a
ball far down a shallow ray, and directly the metric we report.
"""

from __future__ import annotations

import torch
from torch import nn

from colab_utils.models.ball3d.synthetic.physics import FLIGHT

EPS = 1e-6


def _norm(x: torch.Tensor) -> torch.Tensor:
    return torch.sqrt((x * x).sum(dim=-1) + EPS)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


def flight_residual(
    positions: torch.Tensor, fps: float, gravity: float, drag_per_metre: float
) -> torch.Tensor:
    """(B, T-2, 3): second difference of positions minus gravity and drag, at frames 1..T-2 (m/s^2)."""
    acceleration = (positions[:, 2:] - 2 * positions[:, 1:-1] + positions[:, :-2]) * fps**2
    velocity = (positions[:, 2:] - positions[:, :-2]) * (fps / 2)
    expected = -drag_per_metre * _norm(velocity)[..., None] * velocity
    expected = expected + torch.tensor([0.0, 0.0, gravity], device=positions.device)
    return acceleration - expected


class Ball3DLoss(nn.Module):
    """Weighted sum of the four terms; :meth:`terms` gives them separately."""

    def __init__(
        self,
        position: float = 1.0,
        velocity: float = 0.1,
        reprojection: float = 0.05,
        physics: float = 0.002,
        fps: float = 25.0,
        gravity: float = 9.81,
        drag_per_metre: float = 0.0,
    ) -> None:
        super().__init__()
        self.weights = {
            "position": position,
            "velocity": velocity,
            "reprojection": reprojection,
            "physics": physics,
        }
        self.fps, self.gravity, self.drag_per_metre = fps, gravity, drag_per_metre

    def terms(
        self, prediction: dict[str, torch.Tensor], target: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        predicted, true = prediction["position"], target["position"].float()
        flight = target["labels"][:, 1:-1] == FLIGHT
        residual = flight_residual(predicted, self.fps, self.gravity, self.drag_per_metre)
        return {
            "position": _norm(predicted - true).mean(),
            "velocity": _norm(torch.diff(predicted, dim=1) - torch.diff(true, dim=1)).mean() * self.fps,
            "reprojection": _masked_mean(_norm(prediction["uv"] - target["uv"].float()), target["visible"]),
            "physics": _masked_mean(_norm(residual), flight),
        }

    def forward(self, prediction: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> torch.Tensor:
        terms = self.terms(prediction, target)
        return sum(self.weights[name] * value for name, value in terms.items())
