"""gnn samples: a window of tracking as dense per-frame node arrays; its graphs are built per batch.

Windows come from :mod:`colab_utils.tracking.windows` (11 player slots per team, the
ball, ``length`` steps ``step`` frames apart, augmented there: flips, a small rotation and
shift, time warping, dropped points). :class:`WindowArrays` turns one into plain tensors over
its 23 track slots (22 players, then the ball): node features, positions, which slot is
present in which frame, and the labels. :func:`collate_windows` stacks them into a
:class:`WindowBatch`, and :func:`batch_graphs` turns that, on the training device and in one
go for the whole batch, into the :class:`FrameGraphs` the network reads. Building the edges
per batch on the device rather than per window in the loader workers is what lets two CPU
cores keep a GPU fed (README, Measured).

* **Nodes**: in each frame, every player with a position, and the ball. Players absent from
  a frame (not on the pitch, an empty slot, a dropped point) are **not nodes**; nothing has
  to be masked in the graph layers, and the per-player sequences that follow carry an
  explicit presence flag. Players SkillCorner only extrapolated are nodes with ``detected = 0``.
  A **track** is a player slot present in some frame of the window, or the ball.
* **Edges** join each node to neighbours in the same frame, by one of two definitions
  (:class:`EdgeSpec`): the ``k`` nearest other nodes (``knn``: an edge from each of them to
  the node; of equally distant ones, the lower slot first, the ball's slot last) or every other
  node within ``radius_m`` metres (``radius``). Distances are dense per frame (23 x 23), in
  float64 so that the edges do not depend on the device: torch-geometric's ``knn_graph`` /
  ``radius_graph`` need the compiled ``pyg-lib`` / ``torch-cluster`` wheels, which a plain
  ``pip install torch-geometric`` does not bring. Self loops are added by the network.
* **Labels**: the role class of each player track (match sheet, mirrored left <-> right when
  a flip mirrored the pitch), each team's formation class (the rule of
  :mod:`colab_utils.models.gnn.formations`, on the match's own positions over the window's frames,
  so augmentation never changes it) and each frame's phase of play; -1 where missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Self

import numpy as np
import torch

from colab_utils.models.gnn.formations import (
    GOALKEEPER,
    NO_LABEL,
    Formation,
    label_formation,
    mirror_roles,
    role_index,
)
from colab_utils.tracking.skillcorner import Match
from colab_utils.tracking.windows import Window

SPEED_UNIT = 10.0  # m/s
DISTANCE_UNIT = 10.0  # m
HEIGHT_UNIT = 5.0  # m
HOME, AWAY, BALL = 0, 1, 2

NODE_FEATURES = (
    "x",  # / half the pitch's length (the match's own, from the data): the goal lines at +-1
    "y",  # / half its width
    "vx",  # / 10 m/s, from the previous step of the window
    "vy",
    "home",  # one-hot: home player, away player, ball
    "away",
    "ball",
    "detected",  # 1 if seen in the broadcast frame, 0 if extrapolated
    "height",  # ball height / 5 m (0 for players)
    "velocity_known",  # 0 on the first step and where the previous step has no position
    "depth",  # from the team's centre, towards the goal it attacks, in the team's standard deviations
    "width",  # from the team's centre, towards its left, likewise (0 for the ball)
)
EDGE_FEATURES = ("dx", "dy", "distance", "same_team", "self_loop")
"""Source minus target / 10 m, with dx, dy turned into the target's attacking frame (the ball: home's)."""


@dataclass(frozen=True)
class EdgeSpec:
    """Which nodes of a frame are joined: ``knn`` (k nearest others) or ``radius`` (within radius_m)."""

    kind: str = "knn"
    k: int = 8
    radius_m: float = 15.0

    def __post_init__(self) -> None:
        if self.kind not in ("knn", "radius"):
            raise ValueError(f"data.graph.edges must be 'knn' or 'radius', got {self.kind!r}")
        if self.kind == "knn" and self.k < 1:
            raise ValueError(f"data.graph.k must be at least 1, got {self.k}")
        if self.kind == "radius" and self.radius_m <= 0:
            raise ValueError(f"data.graph.radius_m must be positive, got {self.radius_m}")


class _Tensors:
    """Dataclass fields that are tensors, moved or pinned together."""

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Self:
        moved = {f.name: getattr(self, f.name).to(device, non_blocking=non_blocking) for f in fields(self)}
        return replace(self, **moved)

    def pin_memory(self) -> Self:
        """Called by the DataLoader (``pin_memory=True`` on CUDA)."""
        return replace(self, **{f.name: getattr(self, f.name).pin_memory() for f in fields(self)})


@dataclass(frozen=True)
class WindowBatch(_Tensors):
    """B windows of T frames over S = 23 track slots (players, then the ball), as the loader gives them."""

    features: torch.Tensor  # (B, T, S, len(NODE_FEATURES)) float32
    xy: torch.Tensor  # (B, T, S, 2) float32 metres, 0 where absent
    valid: torch.Tensor  # (B, T, S) bool: a node
    tracks: torch.Tensor  # (B, S) bool: a track (a player present in some frame, or the ball)
    team: torch.Tensor  # (B, S) int64: HOME, AWAY or BALL
    attack: torch.Tensor  # (B, S) float32: +1 if the slot's team attacks +x (the ball: as home)
    role: torch.Tensor  # (B, S) int64, NO_LABEL for the ball, empty slots and unknown roles
    formation: torch.Tensor  # (B, 2) int64
    phase: torch.Tensor  # (B, T) int64


@dataclass(frozen=True)
class FrameGraphs(_Tensors):
    """Every frame graph of a batch, side by side: what the network reads, and the labels."""

    x: torch.Tensor  # (nodes, len(NODE_FEATURES)): by window, frame, slot
    edge_index: torch.Tensor  # (2, edges): source, target node
    edge_attr: torch.Tensor  # (edges, len(EDGE_FEATURES))
    node_t: torch.Tensor  # (nodes,) frame
    node_track: torch.Tensor  # (nodes,) track: by window, slot
    track_team: torch.Tensor  # (tracks,)
    track_window: torch.Tensor  # (tracks,)
    role: torch.Tensor  # (tracks,)
    formation: torch.Tensor  # (windows, 2)
    phase: torch.Tensor  # (windows, frames)


def frame_edges(xy: torch.Tensor, valid: torch.Tensor, spec: EdgeSpec) -> tuple[torch.Tensor, ...]:
    """Neighbour edges of every frame: (frame, target, source, distance in m) per edge.

    ``xy`` (F, S, 2) metres and ``valid`` (F, S) for F frames of S slots; a slot that is not valid
    in a frame has no edge in it. No self loops. Edges come by frame, target, then rank (knn) or
    source slot (radius).
    """
    slots = valid.shape[1]
    points = xy.double()
    apart = points[:, :, None, :] - points[:, None, :, :]
    distance = torch.sqrt(apart[..., 0] ** 2 + apart[..., 1] ** 2)
    others = ~torch.eye(slots, dtype=torch.bool, device=valid.device)
    usable = valid[:, :, None] & valid[:, None, :] & others
    distance = distance.masked_fill(~usable, torch.inf)
    if spec.kind == "radius":
        frame, target, source = torch.nonzero(distance <= spec.radius_m, as_tuple=True)
        return frame, target, source, distance[frame, target, source]
    k = min(spec.k, max(slots - 1, 1))
    chosen, nearest = distance.sort(dim=-1, stable=True)  # ties: the lower slot first
    frame, target, rank = torch.nonzero(torch.isfinite(chosen[..., :k]), as_tuple=True)
    return frame, target, nearest[frame, target, rank], chosen[frame, target, rank]


def batch_graphs(batch: WindowBatch, spec: EdgeSpec) -> FrameGraphs:
    """The frame graphs of ``batch``, built where its tensors are (the GPU in training), all at once."""
    windows, frames, slots = batch.valid.shape
    track_window, track_slot = torch.nonzero(batch.tracks, as_tuple=True)
    track_id = torch.full_like(batch.team, -1)
    track_id[track_window, track_slot] = torch.arange(len(track_window), device=track_id.device)
    node_window, node_t, node_slot = torch.nonzero(batch.valid, as_tuple=True)
    node_id = torch.full(batch.valid.shape, -1, dtype=torch.long, device=batch.valid.device)
    node_id[node_window, node_t, node_slot] = torch.arange(len(node_window), device=node_id.device)

    flat_xy = batch.xy.reshape(windows * frames, slots, 2)
    frame, target, source, distance = frame_edges(flat_xy, batch.valid.reshape(-1, slots), spec)
    window, t = frame // frames, frame % frames
    attack = batch.attack[window, target].double()
    offset = (flat_xy[frame, source].double() - flat_xy[frame, target].double()) * attack[:, None]
    same_team = (batch.team[window, source] == batch.team[window, target]).double()
    apart = torch.cat([offset, distance[:, None]], dim=1) / DISTANCE_UNIT
    edge_attr = torch.cat([apart, same_team[:, None], torch.zeros_like(distance)[:, None]], dim=1).float()
    return FrameGraphs(
        x=batch.features[node_window, node_t, node_slot],
        edge_index=torch.stack([node_id[window, t, source], node_id[window, t, target]]),
        edge_attr=edge_attr,
        node_t=node_t,
        node_track=track_id[node_window, node_slot],
        track_team=batch.team[track_window, track_slot],
        track_window=track_window,
        role=batch.role[track_window, track_slot],
        formation=batch.formation,
        phase=batch.phase,
    )


def collate_windows(samples: Sequence[dict[str, torch.Tensor]]) -> WindowBatch:
    """The task's ``collate_fn``: the windows' arrays stacked (every window has the same shapes)."""
    return WindowBatch(**{f.name: torch.stack([s[f.name] for s in samples]) for f in fields(WindowBatch)})


def _team_frame(xy: np.ndarray, team: np.ndarray, attack: np.ndarray) -> np.ndarray:
    """(T, S, 2) players' positions from their team's centre in each frame, axes scaled to the team's
    spread and turned so that +depth points to the goal the team attacks (the ball: 0)."""
    out = np.zeros_like(xy)
    for side in (HOME, AWAY):
        members = np.flatnonzero(team == side)
        points = xy[:, members]
        present = np.isfinite(points).all(axis=-1, keepdims=True)
        count = np.maximum(present.sum(axis=1, keepdims=True), 1)
        centre = np.where(present, points, 0).sum(axis=1, keepdims=True) / count
        spread = np.sqrt(np.where(present, (points - centre) ** 2, 0).sum(axis=1, keepdims=True) / count)
        out[:, members] = (points - centre) / np.maximum(spread, 1.0) * attack[members, None]
    return out


def window_arrays(window: Window, roles: np.ndarray, formation: np.ndarray) -> dict[str, torch.Tensor]:
    """The arrays of ``window`` (one :class:`WindowBatch` entry); ``roles`` (P,) role class per player
    slot, ``formation`` (2,) per team."""
    xy = np.concatenate([window.players, window.ball[:, None, :2]], axis=1).astype(np.float64)
    valid = np.isfinite(xy).all(axis=-1)
    tracks = np.append(window.columns >= 0, True) & valid.any(axis=0)
    tracks[-1] = True  # the ball is a track even where it is never seen
    dt = np.diff(window.times, prepend=np.nan)[:, None, None]
    known = valid & np.roll(valid, 1, axis=0)
    known[0] = False
    velocity = np.where(known[..., None], (xy - np.roll(xy, 1, axis=0)) / dt, 0.0)
    team = np.append(window.team, BALL)
    detected = np.concatenate([window.detected, window.ball_detected[:, None]], axis=1)

    frames, slots = valid.shape
    features = np.zeros((frames, slots, len(NODE_FEATURES)), dtype=np.float32)
    half_length, half_width = window.pitch_size[0] / 2, window.pitch_size[1] / 2
    features[..., 0] = np.nan_to_num(xy[..., 0]) / half_length
    features[..., 1] = np.nan_to_num(xy[..., 1]) / half_width
    features[..., 2:4] = velocity / SPEED_UNIT
    features[:, np.arange(slots), 4 + team] = 1.0
    features[..., 7] = detected
    features[:, -1, 8] = np.nan_to_num(window.ball[:, 2]) / HEIGHT_UNIT
    features[..., 9] = known
    attack = np.where(team == AWAY, -window.home_direction, window.home_direction)
    features[..., 10:12] = np.nan_to_num(_team_frame(xy, team, attack))
    return {
        "features": torch.from_numpy(features),
        "xy": torch.from_numpy(np.nan_to_num(xy).astype(np.float32)),
        "valid": torch.from_numpy(valid),
        "tracks": torch.from_numpy(tracks),
        "team": torch.from_numpy(team.astype(np.int64)),
        "attack": torch.from_numpy(attack.astype(np.float32)),
        "role": torch.from_numpy(np.append(roles, NO_LABEL).astype(np.int64)),
        "formation": torch.from_numpy(np.asarray(formation, dtype=np.int64)),
        "phase": torch.from_numpy(window.phases.astype(np.int64)),
    }


def match_roles(match: Match) -> np.ndarray:
    """(N,) role class of every player on the match sheet (-1 for substitutes and unknown roles)."""
    return np.array([role_index(p.role_name) for p in match.players], dtype=np.int64)


def formation_labels(match: Match, start: int, span: int, templates: Sequence[Formation]) -> np.ndarray:
    """(home, away) formation classes over ``span`` frames from ``start``, by the rule."""
    positions = match.positions[start : start + span]
    keepers = match_roles(match) == GOALKEEPER
    return np.array(
        [
            label_formation(positions[:, match.team_of == side], keepers[match.team_of == side], templates)
            for side in (HOME, AWAY)
        ]
    )


class WindowArrays:
    """Window -> :func:`window_arrays`, the ``transform`` of the trajectory windows dataset."""

    def __init__(self, matches: Sequence[Match], span: int, templates: Sequence[Formation]) -> None:
        self.matches, self.span, self.templates = list(matches), span, list(templates)
        self.roles = [match_roles(match) for match in self.matches]
        self.formations: dict[tuple[int, int], np.ndarray] = {}  # a window's labels never change: cached

    def __call__(self, window: Window, rng: np.random.Generator | None = None) -> dict[str, torch.Tensor]:
        match = self.matches[window.match_index]
        roles = np.where(window.columns >= 0, self.roles[window.match_index][window.columns], NO_LABEL)
        if window.flips[0] != window.flips[1]:  # one flip mirrors the pitch: a left back plays on the right
            roles = mirror_roles(roles)
        key = (window.match_index, window.start)
        if key not in self.formations:
            self.formations[key] = formation_labels(match, window.start, self.span, self.templates)
        formation = self.formations[key]
        return window_arrays(window, roles, formation)
