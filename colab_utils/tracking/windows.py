"""Windows of T steps cut from tracked matches, with the augmentations trajectory models use.

A window is a stretch of one period with tracking at every step (no replay or close-up
inside it): the ball and 11 player slots per team (home slots 0-10, away 11-21, each team's
players by match-sheet column, chosen as the 11 present longest in the window; a slot stays
empty, all NaN, if a team has fewer). Windows start every ``stride`` frames.

Augmentations, all drawn from the sample's generator (so a resumed run sees the same ones):

* pitch flips along x, y or both (a flip along x also swaps which goal each team attacks);
* a small rotation about the centre mark and a small translation;
* time warping: the window is resampled at a speed drawn in [1 - w, 1 + w] (linear
  interpolation; each window reserves the frames the fastest speed needs);
* dropped points: single player or ball positions removed (NaN, flagged in ``dropped``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from colab_utils.engine.sampling import SampleDataset
from colab_utils.tracking.skillcorner import Match

STANDARD_PITCH = (105.0, 68.0)
"""Pitch (length, width) assumed only for arrays a user passes without one; matches carry their own."""


@dataclass(frozen=True)
class WindowSpec:
    """How windows are cut: ``length`` steps ``step`` frames apart, a new window every ``stride`` frames."""

    length: int
    stride: int
    step: int = 1
    players_per_team: int = 11
    min_players: int = 18  # every frame of a window has at least this many players tracked
    max_warp: float = 0.0  # the largest time warp the windows must leave room for

    @property
    def span(self) -> int:
        """Frames a window covers, including the room time warping needs."""
        return int(np.ceil((self.length - 1) * self.step * (1 + self.max_warp))) + 1


@dataclass(frozen=True)
class Augmentation:
    """Training-time augmentation; the default does nothing."""

    flip: bool = False
    rotate_deg: float = 0.0
    translate_m: float = 0.0
    time_warp: float = 0.0
    drop_rate: float = 0.0


@dataclass
class Window:
    """One window: T steps, P = 2 x players_per_team player slots, positions in metres."""

    match_index: int
    start: int  # index of the window's first frame in the match's arrays
    players: np.ndarray  # [T, P, 2] float32, NaN where absent or dropped
    detected: np.ndarray  # [T, P] bool (False where absent)
    ball: np.ndarray  # [T, 3] float32, NaN where not tracked or dropped
    ball_detected: np.ndarray  # [T] bool
    dropped: np.ndarray  # [T, P + 1] bool: points removed by augmentation (the ball last)
    columns: np.ndarray  # [P] column in ``Match.players`` of each slot, -1 for an empty slot
    team: np.ndarray  # [P] 0 home, 1 away
    times: np.ndarray  # [T] seconds since the first step (time warping changes the spacing)
    phases: np.ndarray  # [T] phase of play of the team in possession (nearest frame), -1 for none
    home_direction: float  # +1 if the home team attacks towards +x in this (augmented) window
    flips: tuple[bool, bool]  # (x flipped, y flipped)
    pitch_size: tuple[float, float] = STANDARD_PITCH  # (length, width) metres: the match's own pitch


def window_starts(match: Match, spec: WindowSpec) -> np.ndarray:
    """Start indices (every ``stride`` frames) of the windows fully inside one tracked stretch."""
    count = match.num_frames
    if count < spec.span:
        return np.zeros(0, np.int64)
    present = (~np.isnan(match.positions[..., 0])).sum(axis=1) >= spec.min_players
    joined = np.zeros(count, bool)  # frame t and t + 1 are consecutive frames of one period
    joined[:-1] = (np.diff(match.frame_ids) == 1) & (np.diff(match.periods) == 0)
    good_frame = np.concatenate([[0], np.cumsum(present)])
    good_link = np.concatenate([[0], np.cumsum(joined)])
    starts = np.arange(0, count - spec.span + 1, spec.stride)
    frames_ok = good_frame[starts + spec.span] - good_frame[starts] == spec.span
    links_ok = good_link[starts + spec.span - 1] - good_link[starts] == spec.span - 1
    return starts[frames_ok & links_ok]


def _choose_slots(match: Match, start: int, spec: WindowSpec) -> np.ndarray:
    """Columns of each team's players present longest in the window, by column; -1 pads a short team."""
    seen = (~np.isnan(match.positions[start : start + spec.span, :, 0])).sum(axis=0)
    slots = []
    for team in (0, 1):
        columns = np.flatnonzero((match.team_of == team) & (seen > 0))
        best = np.sort(columns[np.argsort(-seen[columns], kind="stable")[: spec.players_per_team]])
        slots.append(np.pad(best, (0, spec.players_per_team - len(best)), constant_values=-1))
    return np.concatenate(slots)


def _resample(values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``values`` [F, ...] at fractional frame positions ``at`` [T]."""
    low = np.floor(at).astype(int)
    high = np.minimum(low + 1, len(values) - 1)
    weight = (at - low).reshape(-1, *([1] * (values.ndim - 1)))
    mixed = values[low] * (1 - weight) + values[high] * weight
    return np.where(weight == 0, values[low], mixed).astype(values.dtype)  # NaN next door stays out


def cut_window(
    match: Match,
    match_index: int,
    start: int,
    spec: WindowSpec,
    augment: Augmentation | None = None,
    rng: np.random.Generator | None = None,
) -> Window:
    """The window at ``start`` of ``match``, augmented with ``rng`` when ``augment`` is given."""
    augment = augment or Augmentation()
    if rng is None and augment != Augmentation():
        raise ValueError("augmentation needs the sample's random generator (rng)")
    columns = _choose_slots(match, start, spec)
    frames = slice(start, start + spec.span)
    positions = np.where(columns[None, :, None] >= 0, match.positions[frames][:, columns], np.nan)
    detected = match.detected[frames][:, columns] & (columns >= 0)
    ball = match.ball[frames]
    speed = rng.uniform(1 - augment.time_warp, 1 + augment.time_warp) if augment.time_warp else 1.0
    at = np.arange(spec.length) * spec.step * speed
    nearest = np.rint(at).astype(int)
    players = _resample(positions.astype(np.float32), at)
    ball = _resample(ball.astype(np.float32), at)
    period = int(match.periods[start])
    direction = 1.0 if match.home_sides[min(period, len(match.home_sides)) - 1] == "left_to_right" else -1.0
    flips = (False, False)
    if augment.flip:
        flips = (bool(rng.random() < 0.5), bool(rng.random() < 0.5))
        scale = np.array([-1.0 if flips[0] else 1.0, -1.0 if flips[1] else 1.0], np.float32)
        players, ball[:, :2] = players * scale, ball[:, :2] * scale
        direction *= float(scale[0])
    if augment.rotate_deg or augment.translate_m:
        angle = np.radians(rng.uniform(-augment.rotate_deg, augment.rotate_deg))
        shift = rng.uniform(-augment.translate_m, augment.translate_m, 2)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
        players = players @ rotation.T + shift.astype(np.float32)
        ball[:, :2] = ball[:, :2] @ rotation.T + shift.astype(np.float32)
    dropped = np.zeros((spec.length, len(columns) + 1), bool)
    if augment.drop_rate:
        present = np.concatenate([~np.isnan(players[..., 0]), ~np.isnan(ball[:, :1])], axis=1)
        dropped = (rng.random(dropped.shape) < augment.drop_rate) & present
        players[dropped[:, :-1]] = np.nan
        ball[dropped[:, -1]] = np.nan
    return Window(
        match_index=match_index,
        start=int(start),
        players=players.astype(np.float32),
        detected=detected[nearest] & ~dropped[:, :-1],
        ball=ball.astype(np.float32),
        ball_detected=match.ball_detected[start + nearest] & ~dropped[:, -1],
        dropped=dropped,
        columns=columns,
        team=np.repeat(np.arange(2), spec.players_per_team).astype(np.int64),
        times=(at / match.fps).astype(np.float32),
        phases=match.phases[start + nearest].astype(np.int64),
        home_direction=direction,
        flips=flips,
        pitch_size=match.pitch_size,
    )


class TrajectoryWindows(SampleDataset):
    """All windows of some matches; sample i is ``transform(window, rng)`` (the :class:`Window` if none).

    ``transform`` turns a window into a model's tensors and may draw more randomness from the
    same generator (the one the engine derives from seed, epoch and index).
    """

    seeds_global_generators = False  # windows and their transforms draw from ``rng`` alone

    def __init__(
        self,
        matches: Sequence[Match],
        spec: WindowSpec,
        augment: Augmentation | None = None,
        transform: Callable[[Window, np.random.Generator], Any] | None = None,
    ) -> None:
        self.matches = list(matches)
        self.spec = spec
        self.augment = augment
        self.transform = transform
        starts = [window_starts(match, spec) for match in self.matches]
        self.index = np.array(
            [(m, s) for m, found in enumerate(starts) for s in found.tolist()], np.int64
        ).reshape(-1, 2)

    def __len__(self) -> int:
        return len(self.index)

    def window(self, index: int, rng: np.random.Generator | None = None) -> Window:
        match_index, start = (int(v) for v in self.index[index])
        augment = self.augment if rng is not None else None
        return cut_window(self.matches[match_index], match_index, start, self.spec, augment, rng)

    def get(self, index: int, rng: np.random.Generator) -> Any:
        window = self.window(index, rng)
        return self.transform(window, rng) if self.transform else window
