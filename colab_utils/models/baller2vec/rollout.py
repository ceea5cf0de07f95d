"""Forecasts from an observed history: baller2vec rolled out step by step, and constant velocity.

The rollout feeds the network the observed steps, takes each agent's expected next-step
displacement (the mean over its predicted grid of cells), appends the moved positions as
the next step's tokens, and asks again, ``steps`` times. The time-causal mask means the
network never sees the true future. Agents absent at the last observed step are not forecast.
"""

from __future__ import annotations

import torch
from torch import nn

from colab_utils.models.baller2vec.tokens import step_displacement


def _observed(inputs: dict[str, torch.Tensor], history: int) -> dict[str, torch.Tensor]:
    per_window = ("side", "slot", "pitch_half")  # no time axis
    cut = {key: value[:, :history] for key, value in inputs.items() if key not in per_window}
    cut["hidden"] = torch.zeros_like(cut["present"])
    return {**inputs, **cut}


@torch.no_grad()
def rollout(net: nn.Module, inputs: dict[str, torch.Tensor], history: int, steps: int) -> torch.Tensor:
    """Forecast positions [B, steps, A, 2] after the first ``history`` steps of ``inputs``."""
    state = _observed(inputs, history)
    bins = net.bins
    forecast = []
    for _ in range(steps):
        outputs = net(state)
        positions, present = state["positions"], state["present"]
        last = outputs["logits"][:, -1]
        origin = bins.origin(positions, present)[:, -1]
        following = positions[:, -1] + origin + bins.expected(last, outputs["extents"]).to(positions.dtype)
        forecast.append(following)
        state = {
            **state,
            "positions": torch.cat([positions, following[:, None]], dim=1),
            "present": torch.cat([present, present[:, -1:]], dim=1),
            "detected": torch.cat([state["detected"], state["detected"][:, -1:]], dim=1),
            "hidden": torch.cat([state["hidden"], torch.zeros_like(present[:, -1:])], dim=1),
        }
    return torch.stack(forecast, dim=1)


def constant_velocity(
    positions: torch.Tensor, present: torch.Tensor, history: int, steps: int
) -> torch.Tensor:
    """The baseline [B, steps, A, 2]: each agent keeps its last observed displacement per step."""
    moved, _ = step_displacement(positions[:, :history], present[:, :history])
    ahead = torch.arange(1, steps + 1, device=positions.device, dtype=positions.dtype)
    return positions[:, history - 1, None] + ahead[None, :, None, None] * moved[:, -1, None]
