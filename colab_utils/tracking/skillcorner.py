"""SkillCorner open data (broadcast tracking, 10 fps) as arrays: one :class:`Match` per game.

A match is three files in ``data/matches/<id>/`` of SkillCorner's open-data repository:
``<id>_match.json`` (teams, players, roles, pitch size), ``<id>_tracking_extrapolated.jsonl``
(one frame per line) and ``<id>_phases_of_play.csv``. The tracking is parsed by kloppy
(``kloppy.skillcorner.load``, in SkillCorner's own coordinates: metres, origin at the centre
mark, x along the length, y from bottom to top). kloppy drops one field we need, each
object's ``is_detected`` flag (false where SkillCorner extrapolated a player out of the
camera's view), so only that flag is read from the JSONL here, and the phases CSV with pandas.

The tracking files are stored with Git LFS: a clone without ``git lfs`` (or a download that
hit GitHub's LFS quota) leaves a 130-byte pointer where 90 MB of tracking should be. Every
file is checked for that first, with an error that says what happened and what to do.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from colab_utils.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

LFS_SIGNATURE = b"version https://git-lfs.github.com/spec/v1"
CACHE_VERSION = 2
"""Format of the ``.npz`` cache; a cache of another version is parsed again (2: stamped, any provider)."""
FPS = 10.0
PERIOD_START_S = {1: 0.0, 2: 45 * 60.0, 3: 90 * 60.0, 4: 105 * 60.0, 5: 120 * 60.0}
"""Match clock at the start of each period, as SkillCorner's timestamps count it."""

PHASE_NAMES = (
    "build_up",
    "create",
    "finish",
    "direct",
    "quick_break",
    "transition",
    "chaotic",
    "set_play",
)
"""``team_in_possession_phase_type`` values of the phases-of-play CSV; ``Match.phases`` indexes them."""

DEFENDING_PHASE_NAMES = (
    "high_block",
    "medium_block",
    "low_block",
    "defending_direct",
    "defending_quick_break",
    "defending_transition",
    "chaotic",
    "defending_set_play",
)
"""``team_out_of_possession_phase_type`` values; ``Match.defending_phases`` indexes them."""


class LfsPointerError(UserError, RuntimeError):
    """A Git LFS pointer file where SkillCorner's data should be."""


class PlayerInfo(NamedTuple):
    """One player of the match sheet (``Match.players[i]`` describes column ``i`` of the arrays)."""

    player_id: int
    team_id: int
    role_name: str
    number: int


@dataclass
class Match:
    """One match's tracking: T frames at ``fps`` (the data's own rate) and N players (every player listed).

    Positions are metres in SkillCorner's frame (origin at the centre mark, x along the length, y
    up) whichever provider they come from; ``pitch_size`` is the data's own pitch. NaN where a
    player is not on the pitch (a substitute before coming on, a replaced player after) or where
    the broadcast shows no tracking (replays, close-ups). ``detected`` is False where SkillCorner
    extrapolated.
    """

    match_id: int
    fps: float
    frame_ids: np.ndarray  # [T] int64, SkillCorner frame numbers
    periods: np.ndarray  # [T] int8
    times: np.ndarray  # [T] float64, match clock in seconds (period 2 starts at 2700)
    players: list[PlayerInfo]  # [N]
    team_of: np.ndarray  # [N] int8: 0 home, 1 away
    positions: np.ndarray  # [T, N, 2] float32 metres, NaN when absent
    detected: np.ndarray  # [T, N] bool
    ball: np.ndarray  # [T, 3] float32 metres (z up), NaN when not tracked
    ball_detected: np.ndarray  # [T] bool
    possession: np.ndarray  # [T] int8: team in possession, 0 home / 1 away / -1 none
    phases: np.ndarray  # [T] int16 index into phase_names, -1 outside any phase
    defending_phases: np.ndarray  # [T] int16 index into defending_phase_names, -1 outside
    home_sides: tuple[str, ...]  # per period: "left_to_right" (home attacks +x) or "right_to_left"
    team_ids: tuple[int, int]  # (home, away)
    team_names: tuple[str, str]
    pitch_size: tuple[float, float]  # (length, width) metres
    phase_names: tuple[str, ...] = PHASE_NAMES
    defending_phase_names: tuple[str, ...] = DEFENDING_PHASE_NAMES
    phase_team: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))  # [T] -1/0/1

    @property
    def num_frames(self) -> int:
        return len(self.frame_ids)

    def home_direction(self) -> np.ndarray:
        """[T] +1 where the home team attacks towards +x, -1 where towards -x."""
        sign = {side: (1.0 if side == "left_to_right" else -1.0) for side in self.home_sides}
        per_period = np.array([sign[s] for s in self.home_sides] or [1.0])
        return per_period[np.clip(self.periods.astype(int) - 1, 0, len(per_period) - 1)]

    def save(self, path: Path, made_from: str = "") -> None:
        """Write the arrays as one ``.npz`` (loading that is ~100x faster than parsing the JSONL);
        ``made_from`` names the files and settings it was parsed from, so a change rebuilds it."""
        arrays = {name: getattr(self, name) for name in _ARRAY_FIELDS}
        meta = {name: getattr(self, name) for name in _META_FIELDS}
        meta["cache"] = {"version": CACHE_VERSION, "made_from": made_from}
        meta["players"] = [list(p) for p in self.players]
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        with open(partial, "wb") as handle:
            np.savez(handle, meta=np.array(json.dumps(meta)), **arrays)
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> Match:
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {name: data[name] for name in _ARRAY_FIELDS}
        meta.pop("cache", None)
        meta["players"] = [PlayerInfo(*p) for p in meta["players"]]
        for name in ("home_sides", "team_ids", "team_names", "pitch_size", "phase_names"):
            meta[name] = tuple(meta[name])
        meta["defending_phase_names"] = tuple(meta["defending_phase_names"])
        return cls(**meta, **arrays)


_ARRAY_FIELDS = (
    "frame_ids",
    "periods",
    "times",
    "team_of",
    "positions",
    "detected",
    "ball",
    "ball_detected",
    "possession",
    "phases",
    "defending_phases",
    "phase_team",
)
_META_FIELDS = (
    "match_id",
    "fps",
    "home_sides",
    "team_ids",
    "team_names",
    "pitch_size",
    "phase_names",
    "defending_phase_names",
)


@dataclass(frozen=True)
class MatchFiles:
    """Where one match's files are: the open-data layout ``<folder>/<id>_match.json`` and so on."""

    match_id: int
    match_json: Path
    tracking: Path
    phases: Path | None

    @classmethod
    def in_folder(cls, folder: Path, match_id: int) -> MatchFiles:
        folder = Path(folder)
        phases = folder / f"{match_id}_phases_of_play.csv"
        return cls(
            int(match_id),
            folder / f"{match_id}_match.json",
            folder / f"{match_id}_tracking_extrapolated.jsonl",
            phases if phases.exists() else None,
        )

    @property
    def made_from(self) -> str:
        return f"skillcorner {self.match_json.name}"

    def load(self) -> Match:
        return load_match(self.match_json, self.tracking, self.phases)


def load_cached(files: MatchFiles | Any, cache: Path) -> Match:
    """``files.load()`` through an ``.npz`` cache, parsed again when the tracking file is newer, or the
    cache is of another format (:data:`CACHE_VERSION`) or was made from other files or settings.

    ``files`` is a :class:`MatchFiles` or any match description with ``tracking`` (the file whose
    age counts), ``made_from`` (a text naming what the arrays come from) and ``load()``.
    """
    cache = Path(cache)
    if (
        not cache.exists()
        or cache.stat().st_mtime_ns < files.tracking.stat().st_mtime_ns
        or (_cache_stamp(cache) != {"version": CACHE_VERSION, "made_from": files.made_from})
    ):
        files.load().save(cache, files.made_from)
    return Match.load(cache)


def _cache_stamp(cache: Path) -> dict | None:
    try:
        with np.load(cache) as data:
            return json.loads(str(data["meta"])).get("cache")
    except (OSError, ValueError, KeyError):  # a cut or foreign file: parsed again
        return None


def lfs_pointer_size(path: Path) -> int | None:
    """The object size a Git LFS pointer names, or None if ``path`` is not a pointer."""
    with open(path, "rb") as handle:
        head = handle.read(1024)
    if not head.startswith(LFS_SIGNATURE):
        return None
    for line in head.decode("utf-8", "replace").splitlines():
        if line.startswith("size "):
            return int(line.split()[1])
    return 0


def check_not_lfs_pointer(path: Path) -> None:
    """Raise :class:`LfsPointerError` (what happened, what to do) if ``path`` is a Git LFS pointer."""
    size = lfs_pointer_size(path)
    if size is None:
        return
    raise LfsPointerError(
        f"{path} is a Git LFS pointer ({path.stat().st_size} bytes of text naming a {size / 1e6:.1f} MB "
        "object), not SkillCorner's data. SkillCorner stores its tracking files with Git LFS: a clone made "
        "without Git LFS, GitHub's raw.githubusercontent.com address, or a download after the repository's "
        "LFS bandwidth quota ran out all give this pointer instead of the file. Fix: download with "
        "colab_utils.tracking.download.download_matches (it fetches LFS objects from "
        "media.githubusercontent.com), or run `git lfs install && git lfs pull` inside your clone of "
        "https://github.com/SkillCorner/opendata, then load again."
    )


def load_match(match_json: Path, tracking: Path, phases: Path | None = None) -> Match:
    """Parse one match with kloppy (plus the detection flags and phases of play) into a :class:`Match`."""
    from kloppy import skillcorner
    from kloppy.exceptions import DeserializationError

    match_json, tracking = Path(match_json), Path(tracking)
    for path in (match_json, tracking, *([Path(phases)] if phases else [])):
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: download the match first (or check the path).")
        check_not_lfs_pointer(path)
    meta = json.loads(match_json.read_text())
    try:
        dataset = skillcorner.load(
            meta_data=str(match_json),
            raw_data=str(tracking),
            coordinates="skillcorner",
            include_empty_frames=True,
        )
    except (DeserializationError, json.JSONDecodeError, KeyError) as error:
        raise ValueError(
            f"kloppy could not read {tracking} with {match_json} ({type(error).__name__}: {error}). "
            "A download cut short, or a file of another release? Delete the match's folder and download "
            "it again."
        ) from error
    roles = {str(p["id"]): p["player_role"]["name"] for p in meta["players"]}
    frames = kloppy_arrays(dataset, lambda player: roles[player.player_id])
    column = {p.player_id: i for i, p in enumerate(frames.roster)}
    detected, ball_detected = _detection_flags(tracking, frames.frame_ids, column)
    phase_arrays = _phase_labels(phases, frames.frame_ids, frames.team_ids)
    return Match(
        match_id=int(meta["id"]),
        fps=float(dataset.metadata.frame_rate or FPS),
        frame_ids=frames.frame_ids,
        periods=frames.periods,
        times=frames.times,
        players=frames.players,
        team_of=frames.team_of,
        positions=frames.positions,
        detected=detected,
        ball=frames.ball,
        ball_detected=ball_detected,
        possession=frames.possession,
        phases=phase_arrays[0],
        defending_phases=phase_arrays[1],
        phase_team=phase_arrays[2],
        home_sides=tuple(meta.get("home_team_side") or ("left_to_right", "right_to_left")),
        team_ids=frames.team_ids,
        team_names=frames.team_names,
        pitch_size=(float(meta["pitch_length"]), float(meta["pitch_width"])),
    )


class KloppyFrames(NamedTuple):
    """A kloppy tracking dataset's records as arrays (one column per player of both teams' sheets)."""

    roster: list  # kloppy Player objects, home then away: column i of the arrays
    players: list[PlayerInfo]
    team_of: np.ndarray  # [N] int8: 0 home, 1 away
    team_ids: tuple[int, int]
    team_names: tuple[str, str]
    frame_ids: np.ndarray  # [T] int64
    periods: np.ndarray  # [T] int8
    times: np.ndarray  # [T] float64 match clock
    positions: np.ndarray  # [T, N, 2] float32, NaN when absent
    ball: np.ndarray  # [T, 3] float32, NaN when not tracked
    possession: np.ndarray  # [T] int8: 0 home / 1 away / -1 none


def kloppy_arrays(dataset: Any, role_of: Callable[[Any], str]) -> KloppyFrames:
    """The records of a kloppy ``TrackingDataset`` (already in this module's metres) as arrays;
    ``role_of(player)`` names each player's role. Team ids that are not numbers become 0 and 1."""
    home, away = dataset.metadata.teams
    roster = [(p, 0) for p in home.players] + [(p, 1) for p in away.players]
    team_ids = tuple(_number(team.team_id, default) for team, default in ((home, 0), (away, 1)))
    players = [
        PlayerInfo(_number(p.player_id, i), team_ids[side], role_of(p), int(p.jersey_no or 0))
        for i, (p, side) in enumerate(roster)
    ]
    column = {p.player_id: i for i, (p, _) in enumerate(roster)}
    records = dataset.records
    count, n = len(records), len(players)
    positions = np.full((count, n, 2), np.nan, np.float32)
    ball = np.full((count, 3), np.nan, np.float32)
    frame_ids = np.empty(count, np.int64)
    periods = np.empty(count, np.int8)
    times = np.empty(count, np.float64)
    possession = np.full(count, -1, np.int8)
    for t, frame in enumerate(records):
        frame_ids[t] = frame.frame_id
        periods[t] = frame.period.id
        times[t] = PERIOD_START_S[frame.period.id] + frame.timestamp.total_seconds()
        if frame.ball_owning_team is not None:
            possession[t] = 0 if frame.ball_owning_team is home else 1
        if (b := frame.ball_coordinates) is not None:
            z = getattr(b, "z", None)  # a Point3D, or a Point when the height is missing
            ball[t] = (b.x, b.y, np.nan if z is None else z)
        for player, data in frame.players_data.items():
            if data.coordinates is not None and player.player_id in column:
                positions[t, column[player.player_id]] = (data.coordinates.x, data.coordinates.y)
    return KloppyFrames(
        roster=[p for p, _ in roster],
        players=players,
        team_of=np.array([side for _, side in roster], np.int8),
        team_ids=team_ids,
        team_names=(str(home.name), str(away.name)),
        frame_ids=frame_ids,
        periods=periods,
        times=times,
        positions=positions,
        ball=ball,
        possession=possession,
    )


def _number(value: object, default: int) -> int:
    """An id as an int (SkillCorner's are numbers; other providers' are often text)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _detection_flags(
    tracking: Path, frame_ids: np.ndarray, column: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """``is_detected`` of every player and of the ball, on kloppy's frames (the one field it drops)."""
    row = {int(f): t for t, f in enumerate(frame_ids)}
    detected = np.zeros((len(frame_ids), len(column)), bool)
    ball_detected = np.zeros(len(frame_ids), bool)
    with open(tracking, "rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            frame = json.loads(line)
            t = row.get(frame.get("frame"))
            if t is None:
                continue
            ball_detected[t] = bool((frame.get("ball_data") or {}).get("is_detected"))
            for item in frame.get("player_data") or ():
                i = column.get(str(item["player_id"]))
                if i is not None:
                    detected[t, i] = bool(item.get("is_detected"))
    return detected, ball_detected


def _phase_labels(
    phases: Path | None, frame_ids: np.ndarray, team_ids: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame phase of the team in possession, of the team out of it, and which team that is."""
    attacking = np.full(len(frame_ids), -1, np.int16)
    defending = np.full(len(frame_ids), -1, np.int16)
    team = np.full(len(frame_ids), -1, np.int8)
    if phases is None:
        return attacking, defending, team
    import pandas as pd

    table = pd.read_csv(phases)
    required = {
        "frame_start",
        "frame_end",
        "team_in_possession_phase_type",
        "team_out_of_possession_phase_type",
    }
    if missing := required - set(table.columns):
        raise ValueError(
            f"{phases} lacks the column(s) {sorted(missing)} of a SkillCorner phases-of-play CSV."
        )
    unknown: set[str] = set()
    table = table.sort_values("frame_start", kind="stable")
    for row, stop in zip(table.itertuples(index=False), _phase_stops(table), strict=True):
        inside = (frame_ids >= row.frame_start) & (frame_ids < stop)
        attacking[inside] = _index(PHASE_NAMES, row.team_in_possession_phase_type, unknown)
        defending[inside] = _index(DEFENDING_PHASE_NAMES, row.team_out_of_possession_phase_type, unknown)
        owner = getattr(row, "team_in_possession_id", None)
        team[inside] = team_ids.index(int(owner)) if owner in team_ids else -1
    if unknown:
        warnings.warn(
            f"{phases}: phase type(s) {sorted(unknown)} are not among the known ones; those frames get -1.",
            stacklevel=3,
        )
    return attacking, defending, team


def _phase_stops(table: pd.DataFrame) -> np.ndarray:
    """The first frame after each phase row (rows sorted by ``frame_start``): half-open spans.

    SkillCorner's consecutive rows share their boundary frame (one row's ``frame_end`` is the
    next row's ``frame_start``). Rule: a row covers ``frame_start`` up to and including
    ``frame_end``, except that it stops where the next row starts, so a shared boundary frame
    belongs to the phase that starts there, as ``[frame_start, next frame_start)``. No frame is
    labelled twice, and a row followed by a gap keeps its last frame.
    """
    starts = table["frame_start"].to_numpy(np.int64)
    ends = table["frame_end"].to_numpy(np.int64) + 1
    next_starts = np.append(starts[1:], np.iinfo(np.int64).max)
    return np.minimum(ends, next_starts)


def _index(names: tuple[str, ...], value: object, unknown: set[str]) -> int:
    """Position of a phase name; -1 for an empty cell or a name this module does not know (recorded)."""
    if value in names:
        return names.index(value)
    if isinstance(value, str):
        unknown.add(value)
    return -1
