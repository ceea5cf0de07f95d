"""gnn samples: a window of tracking as one graph per frame, with the window's labels.

Windows come from :mod:`colab_utils.tracking.windows` (11 player slots per team, the
ball, ``length`` steps ``step`` frames apart, augmented there: flips, a small rotation and
shift, time warping, dropped points). :class:`GraphTransform` turns one into a
:class:`WindowGraph`:

* **Nodes**: in each frame, every player with a position, and the ball. Players absent from
  a frame (not on the pitch, an empty slot, a dropped point) are **not nodes**; nothing has
  to be masked in the graph layers, and the per-player sequences that follow carry an
  explicit presence flag. Players SkillCorner only extrapolated are nodes with ``detected = 0``.
* **Edges** join each node to neighbours in the same frame, by one of two definitions
  (:class:`EdgeSpec`): the ``k`` nearest other nodes (``knn``: an edge from each of them to
  the node) or every other node within ``radius_m`` metres (``radius``). Distances are
  computed densely per frame (at most 23 nodes) in numpy: torch-geometric's ``knn_graph`` /
  ``radius_graph`` need the compiled ``pyg-lib`` / ``torch-cluster`` wheels, which a plain
  ``pip install torch-geometric`` does not bring. Self loops are added by the network.
* **Labels**: the role class of each player track (match sheet, mirrored left <-> right when
  a flip mirrored the pitch), each team's formation class (the rule of
  :mod:`colab_utils.models.gnn.formations`, on the match's own positions over the window's frames,
  so augmentation never changes it) and each frame's phase of play; -1 where missing.

A window's frame graphs sit side by side in one :class:`WindowGraph`, so torch-geometric's
``Batch.from_data_list`` (:func:`collate_windows`) batches windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch_geometric.data import Batch, Data

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


def frame_edges(points: np.ndarray, valid: np.ndarray, spec: EdgeSpec) -> tuple[np.ndarray, ...]:
    """Neighbour edges of every frame: (frame, target, source) slot arrays.

    ``points`` (T, M, 2) metres and ``valid`` (T, M) for T frames of M slots; a slot that is not
    valid in a frame has no edge in it. No self loops.
    """
    slots = valid.shape[1]
    apart = points[:, :, None, :] - points[:, None, :, :]
    distance = np.sqrt(apart[..., 0] ** 2 + apart[..., 1] ** 2)
    usable = valid[:, :, None] & valid[:, None, :] & ~np.eye(slots, dtype=bool)[None]
    distance = np.where(usable, distance, np.inf)
    if spec.kind == "radius":
        frame, target, source = np.nonzero(distance <= spec.radius_m)
        return frame, target, source
    k = min(spec.k, max(slots - 1, 1))
    nearest = np.argsort(distance, axis=-1, kind="stable")[:, :, :k]  # (T, M, k) source slots
    chosen = np.take_along_axis(distance, nearest, axis=-1)
    frame, target, rank = np.nonzero(np.isfinite(chosen))
    return frame, target, nearest[frame, target, rank]


class WindowGraph(Data):
    """A window's frame graphs side by side; batching keeps track and window indices right."""

    def __inc__(self, key: str, value, *args, **kwargs):
        if key == "node_track":
            return self.track_team.numel()
        if key == "track_window":
            return 1
        return super().__inc__(key, value, *args, **kwargs)


def collate_windows(samples: Sequence[WindowGraph]) -> Batch:
    """The task's ``collate_fn``: torch-geometric's batching of the windows' graphs."""
    return Batch.from_data_list(list(samples))


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


def window_graph(window: Window, roles: np.ndarray, formation: np.ndarray, edges: EdgeSpec) -> WindowGraph:
    """The graphs of ``window``; ``roles`` (P,) role class per player slot, ``formation`` (2,) per team."""
    slots = np.flatnonzero((window.columns >= 0) & np.isfinite(window.players).all(axis=-1).any(axis=0))
    frames, tracks = len(window.times), len(slots) + 1  # the ball is the last track
    xy = np.concatenate([window.players[:, slots], window.ball[:, None, :2]], axis=1).astype(np.float64)
    valid = np.isfinite(xy).all(axis=-1)
    dt = np.diff(window.times, prepend=np.nan)[:, None, None]
    known = valid & np.roll(valid, 1, axis=0)
    known[0] = False
    velocity = np.where(known[..., None], (xy - np.roll(xy, 1, axis=0)) / dt, 0.0)
    team = np.append(window.team[slots], BALL)
    detected = np.concatenate([window.detected[:, slots], window.ball_detected[:, None]], axis=1)

    features = np.zeros((frames, tracks, len(NODE_FEATURES)), dtype=np.float32)
    half_length, half_width = window.pitch_size[0] / 2, window.pitch_size[1] / 2
    features[..., 0] = np.nan_to_num(xy[..., 0]) / half_length
    features[..., 1] = np.nan_to_num(xy[..., 1]) / half_width
    features[..., 2:4] = velocity / SPEED_UNIT
    features[:, np.arange(tracks), 4 + team] = 1.0
    features[..., 7] = detected
    features[:, -1, 8] = np.nan_to_num(window.ball[:, 2]) / HEIGHT_UNIT
    features[..., 9] = known
    attack = np.where(team == AWAY, -window.home_direction, window.home_direction)
    features[..., 10:12] = np.nan_to_num(_team_frame(xy, team, attack))

    frame_of, track_of = np.nonzero(valid)
    node_id = np.full(valid.shape, -1, dtype=np.int64)
    node_id[frame_of, track_of] = np.arange(len(frame_of))
    e_frame, e_target, e_source = frame_edges(np.nan_to_num(xy), valid, edges)
    offset = (xy[e_frame, e_source] - xy[e_frame, e_target]) * attack[e_target, None]
    edge_attr = np.column_stack(
        [
            offset / DISTANCE_UNIT,
            np.linalg.norm(offset, axis=-1) / DISTANCE_UNIT,
            team[e_source] == team[e_target],
            np.zeros(len(e_frame)),
        ]
    ).astype(np.float32)
    return WindowGraph(
        x=torch.from_numpy(features[frame_of, track_of]),
        edge_index=torch.from_numpy(np.stack([node_id[e_frame, e_source], node_id[e_frame, e_target]])),
        edge_attr=torch.from_numpy(edge_attr),
        node_t=torch.from_numpy(frame_of.astype(np.int64)),
        node_track=torch.from_numpy(track_of.astype(np.int64)),
        track_team=torch.from_numpy(team.astype(np.int64)),
        track_window=torch.zeros(tracks, dtype=torch.long),
        role=torch.from_numpy(np.append(roles[slots], NO_LABEL).astype(np.int64)),
        formation=torch.from_numpy(np.asarray(formation, dtype=np.int64))[None],
        phase=torch.from_numpy(window.phases.astype(np.int64))[None],
    )


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


class GraphTransform:
    """Window -> :class:`WindowGraph`, the ``transform`` of the trajectory windows dataset."""

    def __init__(
        self, matches: Sequence[Match], span: int, edges: EdgeSpec, templates: Sequence[Formation]
    ) -> None:
        self.matches, self.span, self.edges, self.templates = list(matches), span, edges, list(templates)
        self.roles = [match_roles(match) for match in self.matches]
        self.formations: dict[tuple[int, int], np.ndarray] = {}  # a window's labels never change: cached

    def __call__(self, window: Window, rng: np.random.Generator | None = None) -> WindowGraph:
        match = self.matches[window.match_index]
        roles = np.where(window.columns >= 0, self.roles[window.match_index][window.columns], NO_LABEL)
        if window.flips[0] != window.flips[1]:  # one flip mirrors the pitch: a left back plays on the right
            roles = mirror_roles(roles)
        key = (window.match_index, window.start)
        if key not in self.formations:
            self.formations[key] = formation_labels(match, window.start, self.span, self.templates)
        formation = self.formations[key]
        return window_graph(window, roles, formation, self.edges)
