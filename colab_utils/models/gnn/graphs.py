"""gnn samples: a window of tracking as dense per-frame node arrays; its graphs are built per batch.

Windows come from :mod:`colab_utils.tracking.windows` (11 player slots per team, the
ball, ``length`` steps ``step`` frames apart, augmented there: flips, a small rotation and
shift, time warping, dropped points), a batch at a time. :func:`window_batch` turns a batch of
them, all at once, into a :class:`WindowBatch` of plain tensors over each window's 23 track slots
(22 players, then the ball): node features, positions, which slot is present in which frame, and
the labels. :class:`WindowArrays`, the dataset's transform, does that for the loader's whole batch
(which :func:`collate_windows` passes through) or for one window (a batch of one, which
:func:`collate_windows` stacks with others). :func:`batch_graphs` turns a batch, on the training
device and in one go, into the :class:`FrameGraphs` the network reads. Cutting and arraying whole
batches in the loader workers, and building the edges per batch on the device, is what lets two
CPU cores keep a GPU fed (README, Measured).

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
  so augmentation never changes it: every window's is computed once, when the dataset is made)
  and each frame's phase of play; -1 where missing.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Self

import numpy as np
import torch

from colab_utils.models.gnn.formations import (
    GOALKEEPER,
    NO_LABEL,
    Formation,
    assignment_costs,
    mirror_roles,
    outfield_shape,
    presence,
    role_index,
)
from colab_utils.tracking.skillcorner import Match
from colab_utils.tracking.windows import Window, Windows, WindowSpec, window_index

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

    def sample(self, i: int) -> dict[str, torch.Tensor]:
        """Window ``i``'s arrays (what :func:`collate_windows` stacks)."""
        return {f.name: getattr(self, f.name)[i] for f in fields(self)}

    def __reduce__(self) -> tuple:
        """Pickled as numpy arrays, so a batch crosses from a loader worker to the trainer in one piece
        through the pipe: torch's default, a shared-memory file per tensor, costs ~3 ms a batch."""
        arrays = {f.name: getattr(self, f.name).cpu().numpy() for f in fields(self)}
        return _window_batch_of_arrays, (arrays,)


def _window_batch_of_arrays(arrays: dict[str, np.ndarray]) -> WindowBatch:
    return WindowBatch(**{name: torch.from_numpy(array) for name, array in arrays.items()})


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


def collate_windows(samples: Sequence[dict[str, torch.Tensor]] | WindowBatch) -> WindowBatch:
    """The task's ``collate_fn``: the windows' arrays stacked (every window has the same shapes); a
    batch the dataset made whole (:meth:`WindowArrays.batch`) passes through."""
    if isinstance(samples, WindowBatch):
        return samples
    return WindowBatch(**{f.name: torch.stack([s[f.name] for s in samples]) for f in fields(WindowBatch)})


def _team_frame(xy: np.ndarray, team: np.ndarray, attack: np.ndarray) -> np.ndarray:
    """(B, T, S, 2) players' positions from their team's centre in each frame, axes scaled to the team's
    spread and turned so that +depth points to the goal the team attacks (the ball: 0).

    The sums run over the slots as the last axis: numpy then sums each (window, frame, axis) row
    alone, the same way whatever the batch around it."""
    points = np.ascontiguousarray(np.moveaxis(xy, -1, -2))  # (B, T, 2, S)
    finite = np.isfinite(points).all(axis=-2, keepdims=True)
    out = np.zeros_like(points)
    for side in (HOME, AWAY):
        member = (team == side)[:, None, None, :]
        present = finite & member
        count = np.maximum(present.sum(axis=-1, keepdims=True), 1)
        centre = np.where(present, points, 0).sum(axis=-1, keepdims=True) / count
        offset = points - centre
        spread = np.sqrt(np.where(present, offset**2, 0).sum(axis=-1, keepdims=True) / count)
        out = np.where(member, offset / np.maximum(spread, 1.0) * attack[:, None, None, :], out)
    return np.moveaxis(out, -2, -1)


def window_batch(windows: Windows, roles: np.ndarray, formations: np.ndarray) -> WindowBatch:
    """The arrays of a batch of windows, all at once; ``roles`` (B, P) role class per player slot,
    ``formations`` (B, 2) per team."""
    xy = np.concatenate([windows.players, windows.ball[:, :, None, :2]], axis=2).astype(np.float64)
    valid = np.isfinite(xy).all(axis=-1)
    count, frames, slots = valid.shape
    tracks = np.concatenate([windows.columns >= 0, np.ones((count, 1), bool)], axis=1) & valid.any(axis=1)
    tracks[:, -1] = True  # the ball is a track even where it is never seen
    dt = np.diff(windows.times, axis=1, prepend=np.nan)[:, :, None, None]
    known = valid & np.roll(valid, 1, axis=1)
    known[:, 0] = False
    velocity = np.where(known[..., None], (xy - np.roll(xy, 1, axis=1)) / dt, 0.0)
    team = np.concatenate([windows.team, np.full((count, 1), BALL)], axis=1)
    detected = np.concatenate([windows.detected, windows.ball_detected[..., None]], axis=2)

    features = np.zeros((count, frames, slots, len(NODE_FEATURES)), dtype=np.float32)
    half = windows.pitch_size[:, None, None, :] / 2
    features[..., 0] = np.nan_to_num(xy[..., 0]) / half[..., 0]
    features[..., 1] = np.nan_to_num(xy[..., 1]) / half[..., 1]
    features[..., 2:4] = velocity / SPEED_UNIT
    features[..., 4:7] = team[:, None, :, None] == np.arange(3)  # home, away, ball
    features[..., 7] = detected
    features[:, :, -1, 8] = np.nan_to_num(windows.ball[..., 2]) / HEIGHT_UNIT
    features[..., 9] = known
    direction = windows.home_direction[:, None]
    attack = np.where(team == AWAY, -direction, direction)
    features[..., 10:12] = np.nan_to_num(_team_frame(xy, team, attack))
    no_label = np.full((count, 1), NO_LABEL)
    return WindowBatch(
        features=torch.from_numpy(features),
        xy=torch.from_numpy(np.nan_to_num(xy).astype(np.float32)),
        valid=torch.from_numpy(valid),
        tracks=torch.from_numpy(tracks),
        team=torch.from_numpy(team.astype(np.int64)),
        attack=torch.from_numpy(attack.astype(np.float32)),
        role=torch.from_numpy(np.concatenate([roles, no_label], axis=1).astype(np.int64)),
        formation=torch.from_numpy(np.asarray(formations, dtype=np.int64)),
        phase=torch.from_numpy(windows.phases.astype(np.int64)),
    )


def window_arrays(window: Window, roles: np.ndarray, formation: np.ndarray) -> dict[str, torch.Tensor]:
    """The arrays of ``window`` (one :class:`WindowBatch` entry): a batch of one; ``roles`` (P,) role
    class per player slot, ``formation`` (2,) per team."""
    batch = window_batch(Windows.of([window]), np.asarray(roles)[None], np.asarray(formation)[None])
    return batch.sample(0)


def match_roles(match: Match) -> np.ndarray:
    """(N,) role class of every player on the match sheet (-1 for substitutes and unknown roles)."""
    return np.array([role_index(p.role_name) for p in match.players], dtype=np.int64)


def window_formations(
    match: Match, starts: np.ndarray, span: int, templates: Sequence[Formation], chunk: int = 256
) -> np.ndarray:
    """(W, 2) (home, away) formation classes by the rule of the windows of ``span`` frames at ``starts``:
    the players' presence and mean positions come for ``chunk`` windows at a time, the teams' shapes
    then go through the assignment together."""
    keepers = match_roles(match) == GOALKEEPER
    teams = [match.team_of == side for side in (HOME, AWAY)]
    labels = np.full((len(starts), 2), NO_LABEL, dtype=np.int64)
    shapes, labelled = [], []  # each team shape the rule can label, and its (window, side)
    for first in range(0, len(starts), chunk):
        frames = np.asarray(starts[first : first + chunk])[:, None] + np.arange(span)
        counts, means = presence(match.positions[frames])
        for window, side in itertools.product(range(len(frames)), (HOME, AWAY)):
            team = teams[side]
            shape = outfield_shape(counts[window, team], means[window, team], keepers[team], span)
            if shape is not None:
                shapes.append(shape)
                labelled.append((first + window, side))
    if shapes:
        rows, sides = np.array(labelled).T
        labels[rows, sides] = assignment_costs(np.array(shapes), templates).argmin(axis=1)
    return labels


def formation_labels(match: Match, start: int, span: int, templates: Sequence[Formation]) -> np.ndarray:
    """(home, away) formation classes over ``span`` frames from ``start``, by the rule."""
    return window_formations(match, np.array([start]), span, templates)[0]


class WindowArrays:
    """Windows -> :func:`window_batch`, the ``transform`` of the trajectory windows dataset, for one
    window or a whole batch at once.

    Every window's formation labels are computed here, when the dataset is made: in the main
    process, before the loader's workers fork and inherit them. They depend on the match and the
    window's frames alone, never on augmentation.
    """

    def __init__(self, matches: Sequence[Match], spec: WindowSpec, templates: Sequence[Formation]) -> None:
        self.matches = list(matches)
        roles = [match_roles(match) for match in self.matches]
        self.roles = np.full((len(roles), max(map(len, roles), default=0)), NO_LABEL)  # by match, column
        for row, found in zip(self.roles, roles, strict=True):
            row[: len(found)] = found
        index = window_index(self.matches, spec)
        self.labels = np.concatenate(
            [
                window_formations(match, index[index[:, 0] == m, 1], spec.span, templates)
                for m, match in enumerate(self.matches)
            ]
            or [np.zeros((0, 2), np.int64)]
        )  # (windows, 2) in the order of ``index``
        self.frames = max((match.num_frames for match in self.matches), default=0)
        self.keys = index[:, 0] * self.frames + index[:, 1]  # sorted, as the index is

    def formations(self, match_index: np.ndarray, start: np.ndarray) -> np.ndarray:
        """(B, 2) the labels of the windows at ``start`` of matches ``match_index``."""
        wanted = match_index * self.frames + start
        row = np.minimum(np.searchsorted(self.keys, wanted), len(self.keys) - 1)
        if (self.keys[row] != wanted).any():
            raise KeyError("a window that is not one of the dataset's (match, start)")
        return self.labels[row]

    def batch(self, windows: Windows, rngs: Sequence[np.random.Generator] | None = None) -> WindowBatch:
        columns = windows.columns
        roles = np.where(
            columns >= 0, self.roles[windows.match_index[:, None], np.maximum(columns, 0)], NO_LABEL
        )
        mirrored = windows.flips[:, 0] != windows.flips[:, 1]  # one flip mirrors the pitch: a left back
        roles = np.where(mirrored[:, None], mirror_roles(roles), roles)  # plays on the right
        return window_batch(windows, roles, self.formations(windows.match_index, windows.start))

    def __call__(self, window: Window, rng: np.random.Generator | None = None) -> dict[str, torch.Tensor]:
        return self.batch(Windows.of([window])).sample(0)
