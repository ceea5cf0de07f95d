"""baller2vec's tokens: one per agent (22 players + the ball) per time step, and what they see.

* :func:`window_tensors` turns a :class:`~colab_utils.tracking.windows.Window` into the
  network's inputs: positions ``[T, A, 2]`` (players by slot, the ball last), which agents are
  present and detected, each agent's side (the team attacking towards +x, the other, the ball)
  and slot id, and the tokens hidden for masked reconstruction. Slot ids are per window: in
  training the players of each team are shuffled into their slots (so an id only links one
  agent's tokens across time, as baller2vec's player identities do within a sequence).
* :func:`token_features` computes each token's features from positions, on the fly, so a
  rollout can append its own predictions and ask again.
* :func:`time_causal_mask` is baller2vec's attention mask: the token of agent a at step t
  attends to every agent's tokens at steps <= t (all agents at the same step included), never
  to a later step.
* :class:`DisplacementBins` is the classification target: the next step's displacement
  falls in one cell of a K x K grid. baller2vec centres the grid on zero; centring it on the
  last step's displacement (``centre="velocity"``) makes the grid's middle cell the
  constant-velocity forecast, so an untrained model starts near that baseline and the cells
  can be finer.
"""

from __future__ import annotations

import numpy as np
import torch

from colab_utils.tracking.windows import Window

BALL_SIDE = 2  # side id of the ball token (0: attacks +x, 1: attacks -x)
FEATURES = ("x", "y", "dx", "dy", "ddx", "ddy", "present", "detected")


def window_tensors(
    window: Window, rng: np.random.Generator | None, mask_rate: float = 0.0, shuffle_slots: bool = False
) -> dict[str, torch.Tensor]:
    """The inputs of one window (``rng`` draws the slot shuffle and the hidden tokens)."""
    players = window.players.shape[1]
    per_team = players // 2
    order = np.arange(players)
    if shuffle_slots and rng is not None:
        order = np.concatenate([rng.permutation(per_team), per_team + rng.permutation(per_team)])
    positions = np.concatenate([window.players[:, order], window.ball[:, None, :2]], axis=1)
    detected = np.concatenate([window.detected[:, order], window.ball_detected[:, None]], axis=1)
    present = ~np.isnan(positions[..., 0])
    attacks_plus_x = 0 if window.home_direction > 0 else 1  # the home team's side id
    side = np.where(window.team[order] == 0, attacks_plus_x, 1 - attacks_plus_x)
    hidden = np.zeros(present.shape, bool)
    if mask_rate and rng is not None:
        hidden = (rng.random(present.shape) < mask_rate) & present
    return {
        "positions": torch.from_numpy(np.nan_to_num(positions).astype(np.float32)),
        "present": torch.from_numpy(present),
        "detected": torch.from_numpy(detected & present),
        "side": torch.from_numpy(np.append(side, BALL_SIDE).astype(np.int64)),
        "slot": torch.from_numpy(np.append(order, players).astype(np.int64)),
        "hidden": torch.from_numpy(hidden),
        "pitch_half": torch.tensor(window.pitch_size, dtype=torch.float32) / 2,  # the match's own pitch
    }


def step_displacement(positions: torch.Tensor, present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Displacement from the previous step [B, T, A, 2] (zero at t=0) and where it is known."""
    moved = torch.zeros_like(positions)
    moved[:, 1:] = positions[:, 1:] - positions[:, :-1]
    known = torch.zeros_like(present)
    known[:, 1:] = present[:, 1:] & present[:, :-1]
    return moved * known[..., None], known


def token_features(
    positions: torch.Tensor,
    present: torch.Tensor,
    detected: torch.Tensor,
    extents: torch.Tensor,
    pitch_half: torch.Tensor,
) -> torch.Tensor:
    """[B, T, A, len(FEATURES)]: position over half the window's pitch ``pitch_half`` [B, 2] (so a goal
    line is at +-1 on any pitch), the last displacement and its change (each over the agent's bin
    extent: velocity and acceleration per step), presence and detection flags."""
    half = pitch_half[:, None, None, :].to(positions.dtype)
    moved, known = step_displacement(positions, present)
    change, _ = step_displacement(moved, known)
    flags = torch.stack([present, detected & present], dim=-1).to(positions.dtype)
    scale = extents[:, None]
    features = torch.cat([positions / half, moved / scale, change / scale, flags], dim=-1)
    return features * present[..., None].to(positions.dtype)  # an absent agent's token says only that


def time_causal_mask(steps: int, agents: int, device: torch.device | None = None) -> torch.Tensor:
    """Boolean [L, L] over time-major tokens (L = steps x agents): True where attention is blocked."""
    time = torch.arange(steps, device=device).repeat_interleave(agents)
    return time[None, :] > time[:, None]


class DisplacementBins:
    """A K x K grid of next-step displacements, per agent kind (players, ball), in metres."""

    def __init__(self, size: int, player_extent_m: float, ball_extent_m: float, centre: str) -> None:
        if size < 3 or size % 2 == 0:
            raise ValueError(f"model.bins.size must be odd and >= 3 (a middle cell), got {size}")
        if centre not in ("velocity", "zero"):
            raise ValueError(f"model.bins.centre must be 'velocity' or 'zero', got {centre!r}")
        self.size, self.centre = size, centre
        self.player_extent_m, self.ball_extent_m = float(player_extent_m), float(ball_extent_m)

    @property
    def classes(self) -> int:
        return self.size * self.size

    def extents(self, agents: int, device: torch.device | None = None) -> torch.Tensor:
        """[A]: the grid's half-width for each agent (players first, the ball last)."""
        values = torch.full((agents,), self.player_extent_m, device=device)
        values[-1] = self.ball_extent_m
        return values

    def origin(self, positions: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """[B, T, A, 2]: the grid's centre for the step after each token."""
        if self.centre == "zero":
            return torch.zeros_like(positions)
        moved, _ = step_displacement(positions, present)
        return moved

    def cell_of(self, residual: torch.Tensor, extents: torch.Tensor) -> torch.Tensor:
        """Class index [B, T, A] of residual displacements [B, T, A, 2] (outside: the edge cells)."""
        width = 2 * extents[:, None] / (self.size - 1)
        cells = torch.round(residual / width + (self.size - 1) / 2).clamp(0, self.size - 1).long()
        return cells[..., 0] * self.size + cells[..., 1]

    def expected(self, logits: torch.Tensor, extents: torch.Tensor) -> torch.Tensor:
        """The mean residual [..., A, 2] under the predicted distribution (logits [..., A, K*K])."""
        grid = torch.linspace(-1.0, 1.0, self.size, device=logits.device)
        probabilities = logits.float().softmax(-1).unflatten(-1, (self.size, self.size))
        mean = torch.stack(
            [(probabilities.sum(-1) * grid).sum(-1), (probabilities.sum(-2) * grid).sum(-1)], -1
        )
        return mean * extents[:, None]
