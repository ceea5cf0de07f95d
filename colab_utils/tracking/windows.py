"""Windows of T steps cut from tracked matches, with the augmentations trajectory models use.

A window is a stretch of one period with tracking at every step (no replay or close-up
inside it): the ball and 11 player slots per team (home slots 0-10, away 11-21, each team's
players by match-sheet column, chosen as the 11 present longest in the window; a slot stays
empty, all NaN, if a team has fewer). Windows start every ``stride`` frames.

Windows are cut a batch at a time (:func:`cut_windows`): the matches' arrays are packed end to
end once (:class:`PackedMatches`), so the frames and players of all the batch's windows are one
fancy index, and every augmentation is elementwise arithmetic over the batch. One window is a
batch of one (:func:`cut_window`, ``TrajectoryWindows.window``): a sample is the same alone or in
any batch. The DataLoader fetches a batch's keys at once (``TrajectoryWindows.__getitems__``); a
transform with a ``batch`` method (:class:`BatchTransform`) turns the whole batch into the model's
tensors in one go, any other transform is called window by window.

Augmentations, all drawn from the sample's own generator, the same numbers in the same order
whatever batch the sample is in (so a resumed run sees the same ones):

* pitch flips along x, y or both (a flip along x also swaps which goal each team attacks);
* a small rotation about the centre mark and a small translation;
* time warping: the window is resampled at a speed drawn in [1 - w, 1 + w] (linear
  interpolation; each window reserves the frames the fastest speed needs);
* dropped points: single player or ball positions removed (NaN, flagged in ``dropped``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np

from colab_utils.engine.sampling import SampleDataset, sample_key, sample_rng
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


def window_index(matches: Sequence[Match], spec: WindowSpec) -> np.ndarray:
    """(windows, 2) every window of ``matches`` as (match, start), by match then start."""
    rows = [(m, start) for m, match in enumerate(matches) for start in window_starts(match, spec).tolist()]
    return np.array(rows, np.int64).reshape(-1, 2)


@dataclass
class Windows:
    """B windows cut together: the fields of :class:`Window`, each with the batch first."""

    match_index: np.ndarray  # [B] int64
    start: np.ndarray  # [B] int64
    players: np.ndarray  # [B, T, P, 2] float32
    detected: np.ndarray  # [B, T, P] bool
    ball: np.ndarray  # [B, T, 3] float32
    ball_detected: np.ndarray  # [B, T] bool
    dropped: np.ndarray  # [B, T, P + 1] bool
    columns: np.ndarray  # [B, P] int64
    team: np.ndarray  # [B, P] int64
    times: np.ndarray  # [B, T] float32
    phases: np.ndarray  # [B, T] int64
    home_direction: np.ndarray  # [B] float64
    flips: np.ndarray  # [B, 2] bool
    pitch_size: np.ndarray  # [B, 2] float64

    def __len__(self) -> int:
        return len(self.start)

    def window(self, i: int) -> Window:
        """Window ``i`` of the batch on its own (its arrays are views of the batch's)."""
        row = {f.name: getattr(self, f.name)[i] for f in fields(self)}
        row.update(
            match_index=int(row["match_index"]),
            start=int(row["start"]),
            home_direction=float(row["home_direction"]),
            flips=(bool(row["flips"][0]), bool(row["flips"][1])),
            pitch_size=(float(row["pitch_size"][0]), float(row["pitch_size"][1])),
        )
        return Window(**row)

    @classmethod
    def of(cls, windows: Sequence[Window]) -> Windows:
        """Windows made one at a time (by hand, or from a user's arrays) as one batch."""
        return cls(**{f.name: np.array([getattr(w, f.name) for w in windows]) for f in fields(cls)})


def _joined(arrays: list[np.ndarray]) -> np.ndarray:
    """The arrays end to end, contiguous (windows index them flat); a single contiguous one as it is
    (packing one match copies nothing)."""
    return np.ascontiguousarray(arrays[0]) if len(arrays) == 1 else np.concatenate(arrays)


def _widened(array: np.ndarray, width: int, fill: Any) -> np.ndarray:
    """``array`` with columns (axis 1) of ``fill`` added up to ``width``."""
    missing = width - array.shape[1]
    if not missing:
        return array
    return np.pad(array, [(0, 0), (0, missing), *[(0, 0)] * (array.ndim - 2)], constant_values=fill)


@dataclass(frozen=True)
class PackedMatches:
    """The per-frame arrays of several matches end to end, players padded to the widest match.

    Frame f of match m is row ``offsets[m] + f``; a padding column is never tracked (NaN, team -1).
    Packed once per dataset (before the loader's workers fork, so they share it).
    """

    offsets: np.ndarray  # [M] int64
    positions: np.ndarray  # [F, N, 2] float32, NaN when absent
    detected: np.ndarray  # [F, N] bool
    ball: np.ndarray  # [F, 3] float32
    ball_detected: np.ndarray  # [F] bool
    phases: np.ndarray  # [F] phase of play index, -1 for none
    home_direction: np.ndarray  # [F] +1 where the home team attacks towards +x
    team_of: np.ndarray  # [M, N] 0 home, 1 away, -1 padding
    fps: np.ndarray  # [M]
    pitch_size: np.ndarray  # [M, 2] (length, width) metres

    @classmethod
    def of(cls, matches: Sequence[Match]) -> PackedMatches:
        width = max(match.positions.shape[1] for match in matches)
        return cls(
            offsets=np.cumsum([0] + [match.num_frames for match in matches[:-1]]).astype(np.int64),
            positions=_joined([_widened(m.positions, width, np.nan) for m in matches]),
            detected=_joined([_widened(m.detected, width, False) for m in matches]),
            ball=_joined([m.ball for m in matches]),
            ball_detected=_joined([m.ball_detected for m in matches]),
            phases=_joined([m.phases for m in matches]),
            home_direction=_joined([m.home_direction() for m in matches]),
            team_of=np.array([_widened(m.team_of[None], width, -1)[0] for m in matches], np.int8),
            fps=np.array([m.fps for m in matches], np.float64),
            pitch_size=np.array([m.pitch_size for m in matches], np.float64),
        )


def _choose_slots(
    packed: PackedMatches, match_index: np.ndarray, first: np.ndarray, spec: WindowSpec
) -> np.ndarray:
    """[B, P] columns of each team's players present longest in each window (ties: the lower column),
    by column; -1 pads a short team."""
    frames = first[:, None] + np.arange(spec.span)
    seen = (~np.isnan(packed.positions[frames, :, 0])).sum(axis=1)  # [B, N]
    team_of = packed.team_of[match_index]
    width, chosen = seen.shape[1], []
    for team in (0, 1):
        frames_seen = np.where((team_of == team) & (seen > 0), seen, -1)
        order = np.argsort(-frames_seen, axis=1, kind="stable")[:, : spec.players_per_team]
        kept = np.take_along_axis(frames_seen, order, axis=1) > 0
        columns = np.full((len(seen), spec.players_per_team), width)  # width: an empty slot, sorted last
        columns[:, : order.shape[1]] = np.where(kept, order, width)
        columns.sort(axis=1)
        chosen.append(np.where(columns < width, columns, -1))
    return np.concatenate(chosen, axis=1)


@dataclass(frozen=True)
class _Draws:
    """Each window's random numbers (or none: no augmentation)."""

    speed: np.ndarray  # [B] time warp
    flips: np.ndarray  # [B, 2] bool
    cos: np.ndarray  # [B] float32, of the rotation
    sin: np.ndarray  # [B] float32
    shift: np.ndarray  # [B, 2] float32 metres
    drop: np.ndarray  # [B, T, P + 1] uniform in [0, 1), compared with the drop rate

    @classmethod
    def none(cls, batch: int, steps: int, points: int) -> _Draws:
        return cls(
            speed=np.ones(batch),
            flips=np.zeros((batch, 2), bool),
            cos=np.ones(batch, np.float32),
            sin=np.zeros(batch, np.float32),
            shift=np.zeros((batch, 2), np.float32),
            drop=np.ones((batch, steps, points)),
        )

    @classmethod
    def of(
        cls, augment: Augmentation, rngs: Sequence[np.random.Generator], steps: int, points: int
    ) -> _Draws:
        """Every sample draws from its own generator in a fixed order (speed, flip x, flip y, angle,
        shift x, shift y, then one number per step and point for dropping), whatever its batch."""
        uniform = np.empty((len(rngs), 6))
        drop = np.ones((len(rngs), steps, points))
        for i, rng in enumerate(rngs):
            uniform[i] = rng.random(6)
            if augment.drop_rate:
                drop[i] = rng.random((steps, points))
        centred = 2 * uniform - 1  # uniform in [-1, 1)
        angle = np.radians(augment.rotate_deg * centred[:, 3])
        return cls(
            speed=1 + augment.time_warp * centred[:, 0],
            flips=(uniform[:, 1:3] < 0.5) & augment.flip,
            # math's, one sample at a time: numpy's SIMD cos may round by the value's place in the batch
            cos=np.array([math.cos(a) for a in angle], np.float32),
            sin=np.array([math.sin(a) for a in angle], np.float32),
            shift=(augment.translate_m * centred[:, 4:6]).astype(np.float32),
            drop=drop,
        )


def _mix(low: np.ndarray, high: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Linear interpolation between values [B, T, ...] at two frames, ``weight`` [B, T] towards ``high``."""
    weight = weight.reshape(*weight.shape, *[1] * (low.ndim - 2))
    mixed = low * (1 - weight) + high * weight
    return np.where(weight == 0, low, mixed).astype(low.dtype)  # NaN next door stays out


def _turned(points: np.ndarray, draws: _Draws) -> np.ndarray:
    """Points [B, ..., 2] rotated about the centre mark and shifted, elementwise (no matrix product,
    whose rounding could depend on the batch)."""
    shape = (-1, *[1] * (points.ndim - 2))
    cos, sin = draws.cos.reshape(shape), draws.sin.reshape(shape)
    x, y = points[..., 0], points[..., 1]
    return np.stack(
        [
            x * cos - y * sin + draws.shift[:, 0].reshape(shape),
            x * sin + y * cos + draws.shift[:, 1].reshape(shape),
        ],
        axis=-1,
    )


def cut_windows(
    packed: PackedMatches,
    match_index: np.ndarray,
    start: np.ndarray,
    spec: WindowSpec,
    augment: Augmentation | None = None,
    rngs: Sequence[np.random.Generator] | None = None,
) -> Windows:
    """The windows at frames ``start`` [B] of matches ``match_index`` [B] of ``packed``, each augmented
    with its own generator from ``rngs`` when ``augment`` is given."""
    augment = augment or Augmentation()
    batch, steps, points = len(start), spec.length, 2 * spec.players_per_team + 1
    if augment == Augmentation():
        draws = _Draws.none(batch, steps, points)
    elif rngs is None:
        raise ValueError("augmentation needs each sample's random generator (rngs)")
    else:
        draws = _Draws.of(augment, rngs, steps, points)
    first = packed.offsets[match_index] + start  # packed row of each window's first frame
    columns = _choose_slots(packed, match_index, first, spec)
    at = np.arange(steps) * spec.step * draws.speed[:, None]  # [B, T] frames after the first
    low = np.floor(at).astype(np.int64)
    high, weight = np.minimum(low + 1, spec.span - 1), at - low
    nearest = first[:, None] + np.rint(at).astype(np.int64)
    in_slot = (columns >= 0)[:, None, :]
    width = packed.positions.shape[1]

    def cells(frames: np.ndarray) -> np.ndarray:
        """[B, T, P] flat (frame, column) cells of the slots' players at packed rows ``frames`` [B, T]."""
        return frames[..., None] * width + np.maximum(columns, 0)[:, None, :]

    def players_at(offset: np.ndarray) -> np.ndarray:
        found = packed.positions.reshape(-1, 2)[cells(first[:, None] + offset)]
        return np.where(in_slot[..., None], found, np.float32(np.nan))

    players = _mix(players_at(low), players_at(high), weight)
    ball = _mix(packed.ball[first[:, None] + low], packed.ball[first[:, None] + high], weight)
    scale = np.where(draws.flips, np.float32(-1), np.float32(1))
    players, ball[..., :2] = players * scale[:, None, None, :], ball[..., :2] * scale[:, None, :]
    if augment.rotate_deg or augment.translate_m:
        players, ball[..., :2] = _turned(players, draws), _turned(ball[..., :2], draws)
    present = np.concatenate([~np.isnan(players[..., 0]), ~np.isnan(ball[..., :1])], axis=-1)
    dropped = (draws.drop < augment.drop_rate) & present
    players[dropped[..., :-1]] = np.nan
    ball[dropped[..., -1]] = np.nan
    return Windows(
        match_index=np.asarray(match_index, np.int64),
        start=np.asarray(start, np.int64),
        players=players,
        detected=packed.detected.reshape(-1)[cells(nearest)] & in_slot & ~dropped[..., :-1],
        ball=ball,
        ball_detected=packed.ball_detected[nearest] & ~dropped[..., -1],
        dropped=dropped,
        columns=columns,
        team=np.tile(np.repeat(np.arange(2), spec.players_per_team), (batch, 1)),
        times=(at / packed.fps[match_index][:, None]).astype(np.float32),
        phases=packed.phases[nearest].astype(np.int64),
        home_direction=packed.home_direction[first] * scale[:, 0],
        flips=draws.flips,
        pitch_size=packed.pitch_size[match_index],
    )


def cut_window(
    match: Match,
    match_index: int,
    start: int,
    spec: WindowSpec,
    augment: Augmentation | None = None,
    rng: np.random.Generator | None = None,
) -> Window:
    """The window at ``start`` of ``match``, augmented with ``rng`` when ``augment`` is given: a batch
    of one, cut as in any batch."""
    rngs = None if rng is None else [rng]
    windows = cut_windows(
        PackedMatches.of([match]), np.zeros(1, np.int64), np.array([start]), spec, augment, rngs
    )
    return replace(windows.window(0), match_index=match_index)


@runtime_checkable
class BatchTransform(Protocol):
    """A transform that also turns a whole batch of windows into what the loader yields, at once."""

    def __call__(self, window: Window, rng: np.random.Generator) -> Any: ...

    def batch(self, windows: Windows, rngs: Sequence[np.random.Generator]) -> Any: ...


class TrajectoryWindows(SampleDataset):
    """All windows of some matches; sample i is ``transform(window, rng)`` (the :class:`Window` if none).

    ``transform`` turns a window into a model's tensors and may draw more randomness from the
    same generator (the one the engine derives from seed, epoch and index). The loader's batched
    fetch gives ``collate_fn`` the transform's ``batch`` of the windows if it has one
    (:class:`BatchTransform`), else the list of samples.
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
        self.index = window_index(self.matches, spec)
        self.packed = PackedMatches.of(self.matches) if self.matches else None

    def __len__(self) -> int:
        return len(self.index)

    def windows(self, indices: Sequence[int], rngs: Sequence[np.random.Generator] | None = None) -> Windows:
        """Windows ``indices`` cut together, augmented when ``rngs`` (one generator each) are given."""
        rows = self.index[np.asarray(indices, np.int64)]
        augment = self.augment if rngs is not None else None
        return cut_windows(self.packed, rows[:, 0], rows[:, 1], self.spec, augment, rngs)

    def window(self, index: int, rng: np.random.Generator | None = None) -> Window:
        return self.windows([index], None if rng is None else [rng]).window(0)

    def get(self, index: int, rng: np.random.Generator) -> Any:
        window = self.window(index, rng)
        return self.transform(window, rng) if self.transform else window

    def __getitems__(self, keys: Sequence[int | tuple[int, int]]) -> Any:
        """A batch of samples at once: torch's DataLoader calls this with a batch's keys (as
        ``__getitem__`` takes them) and hands what it returns to its ``collate_fn``."""
        indices = [index for _, index in map(sample_key, keys)]
        rngs = [sample_rng(self.seed, epoch, index) for epoch, index in map(sample_key, keys)]
        windows = self.windows(indices, rngs)
        if isinstance(self.transform, BatchTransform):
            return self.transform.batch(windows, rngs)
        samples = [windows.window(i) for i in range(len(windows))]
        if self.transform is None:
            return samples
        return [self.transform(window, rng) for window, rng in zip(samples, rngs, strict=True)]
