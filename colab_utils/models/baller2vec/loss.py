"""baller2vec's training objectives, all teacher-forced over every token of a window.

* ``next_step``: cross-entropy of the next step's displacement cell (baller2vec's only loss),
  for every agent present at both steps;
* ``reconstruction``: Huber distance between the position read from a hidden token's output
  and the truth (masked reconstruction: the token's own features were hidden);
* ``future``: Huber distance of the displacement ``h`` steps ahead, for each horizon of
  ``model.future_horizons`` that fits in the window.

Distances are counted in units of :data:`REGRESSION_UNIT_M` (Huber's quadratic zone is one unit),
so that both regression terms start near the cross-entropy's size rather than tens of metres.

The contrastive term of some multi-agent models is not used.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from colab_utils.models.baller2vec.tokens import DisplacementBins

REGRESSION_UNIT_M = 5.0


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def _huber(predicted: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Per-point Huber distance [..] of [.., 2] points, in units of REGRESSION_UNIT_M."""
    unit = REGRESSION_UNIT_M
    return F.huber_loss(predicted / unit, true / unit, reduction="none", delta=1.0).sum(-1)


class Baller2VecLoss(nn.Module):
    def __init__(self, next_step: float, reconstruction: float, future: float) -> None:
        super().__init__()
        self.weights = {"next_step": next_step, "reconstruction": reconstruction, "future": future}

    def terms(
        self,
        outputs: dict[str, torch.Tensor],
        inputs: dict[str, torch.Tensor],
        bins: DisplacementBins,
        horizons,
    ) -> dict[str, torch.Tensor]:
        positions, present = inputs["positions"].float(), inputs["present"]
        extents = outputs["extents"]
        moved = positions[:, 1:] - positions[:, :-1]
        residual = moved - bins.origin(positions, present)[:, :-1]
        cells = bins.cell_of(residual, extents)
        both = present[:, 1:] & present[:, :-1]
        logits = outputs["logits"][:, :-1].float()
        cross_entropy = F.cross_entropy(logits.flatten(0, 2), cells.flatten(), reduction="none")
        next_step = _masked_mean(cross_entropy, both.flatten())

        hidden = inputs.get("hidden", torch.zeros_like(present)) & present
        error = _huber(outputs["position"].float(), positions)
        reconstruction = _masked_mean(error, hidden)

        future, count = positions.new_zeros(()), 0
        steps = positions.shape[1]
        for k, horizon in enumerate(horizons):
            if horizon >= steps:
                continue
            ahead = positions[:, horizon:] - positions[:, :-horizon]
            valid = present[:, horizon:] & present[:, :-horizon]
            guess = outputs["future"][:, :-horizon, :, k].float()
            error = _huber(guess, ahead)
            future, count = future + _masked_mean(error, valid), count + 1
        return {"next_step": next_step, "reconstruction": reconstruction, "future": future / max(count, 1)}

    def forward(self, outputs, inputs, bins: DisplacementBins, horizons) -> torch.Tensor:
        terms = self.terms(outputs, inputs, bins, horizons)
        return sum(self.weights[name] * value for name, value in terms.items())
