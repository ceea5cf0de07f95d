"""Tracking a user gives a trajectory model at prediction time: a SkillCorner match or arrays.

Both tracking predictors (baller2vec, gnn) read their inputs here: a match's files, parsed by
kloppy like the training data and kept in memory for later calls; the moments chosen in it
(``at``: the match clock, ``frame``: a SkillCorner frame number), refused with the nearest
usable moments when they fall in a replay; or numpy arrays ``(frames, 23, 2)`` in metres at
10 fps, rows 0-10 one team, 11-21 the other, 22 the ball.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from colab_utils.tracking.skillcorner import FPS, Match, MatchFiles
from colab_utils.tracking.windows import Window, WindowSpec, window_starts

PLAYERS = 22
AGENTS = PLAYERS + 1
ACCEPTED = (
    "a SkillCorner match (its folder with <id>_match.json and <id>_tracking_extrapolated.jsonl, or either "
    "file's path) or a numpy array (frames, 23, 2) of positions in metres at 10 fps (rows 0-10 one team, "
    "11-21 the other, 22 the ball; NaN where absent), or a list of such arrays"
)


def match_files(path: str | Path) -> MatchFiles:
    """The match files a path names: the match's folder, its ``<id>_match.json`` or its tracking."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist. Give {ACCEPTED}.")
    if path.is_dir():
        found = sorted(path.glob("*_match.json"))
        if len(found) != 1:
            what = "no <id>_match.json" if not found else f"{len(found)} matches"
            raise ValueError(f"{path} holds {what}: give one match's folder or its <id>_match.json.")
        path = found[0]
    name = re.fullmatch(r"(\d+)_(match\.json|tracking_extrapolated\.jsonl)", path.name)
    if name is None:
        raise ValueError(f"{path.name} is not a SkillCorner match file. Give {ACCEPTED}.")
    files = MatchFiles.in_folder(path.parent, int(name[1]))
    for needed in (files.match_json, files.tracking):
        if not needed.is_file():
            raise FileNotFoundError(f"{needed.name} is missing beside {path}: a match needs both files.")
    return files


@functools.lru_cache(maxsize=2)
def _parsed(files: MatchFiles, stamp: tuple[int, ...]) -> Match:
    return files.load()


def open_match(path: str | Path) -> Match:
    """The match at ``path``, parsed by kloppy once per session (again if a file changes)."""
    files = match_files(path)
    present = [p for p in (files.match_json, files.tracking, files.phases) if p is not None]
    return _parsed(files, tuple(p.stat().st_mtime_ns for p in present))


def clock(seconds: float) -> str:
    """Match clock ``mm:ss.s`` (SkillCorner's: the second half starts at 45:00)."""
    minutes, rest = divmod(float(seconds), 60.0)
    return f"{int(minutes):02d}:{rest:04.1f}"


def moment_name(match: Match, index: int) -> str:
    """A file-name-safe name for frame ``index`` of ``match``: ``<id>_<mm>m<ss.s>s``."""
    minutes, rest = divmod(float(match.times[index]), 60.0)
    return f"{match.match_id}_{int(minutes):02d}m{rest:04.1f}s"


def _seconds(at: Any) -> float:
    if isinstance(at, int | float | np.integer | np.floating):
        return float(at)
    found = re.fullmatch(r"\s*(\d+):(\d+(?:\.\d*)?)\s*", str(at))
    if found is None:
        raise ValueError(f"at={at!r}: give the match clock as 'mm:ss' (e.g. '47:30') or in seconds.")
    return int(found[1]) * 60 + float(found[2])


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple | np.ndarray) else [value]


def window_starts_at(
    match: Match, spec: WindowSpec, at: Any = None, frame: Any = None, anchor: int = 0
) -> list[int]:
    """Start indices of the windows the user asked for; ``anchor`` is the step of the window
    ``at`` / ``frame`` names (0: its first step; ``length - 1``: its last). Without either, the
    match's first window. A moment whose window lacks tracking is refused, naming the nearest
    moments whose window has it."""
    spec = dataclasses.replace(spec, stride=1, max_warp=0.0)
    valid = window_starts(match, spec)
    what = (
        f"{spec.length} steps {spec.step / match.fps:g} s apart in one period with at least "
        f"{spec.min_players} players tracked in every frame"
    )
    if not len(valid):
        raise ValueError(f"match {match.match_id} has no stretch of {what}.")
    offset = anchor * spec.step
    if at is not None and frame is not None:
        raise ValueError("give at= (match clock) or frame= (SkillCorner frame number), not both.")
    if at is None and frame is None:
        return [int(valid[0])]
    starts = []
    for value in _listed(at if at is not None else frame):
        if at is not None:
            seconds = _seconds(value)
            index = int(np.argmin(np.abs(match.times - seconds)))
            if abs(match.times[index] - seconds) > 1.0:
                raise ValueError(f"at={value!r} is not in match {match.match_id}'s tracking.")
            asked = f"at {clock(seconds)}"
        else:
            hits = np.flatnonzero(match.frame_ids == int(value))
            if not len(hits):
                first, last = match.frame_ids[[0, -1]]
                raise ValueError(f"frame {value} is not in match {match.match_id} (frames {first}-{last}).")
            index, asked = int(hits[0]), f"at frame {value}"
        start = index - offset
        if not np.isin(start, valid):
            before, after = valid[valid < start], valid[valid > start]
            nearest = [
                (side, i + offset) for side, i in (("before", before[-1:]), ("after", after[:1])) if len(i)
            ]
            options = ", ".join(
                f"{clock(match.times[i[0]])} (frame {match.frame_ids[i[0]]}) {side}" for side, i in nearest
            )
            raise ValueError(
                f"No window {asked}: it needs {what} (a replay or close-up has no tracking). "
                f"The nearest moments that have it: {options}."
            )
        starts.append(start)
    return starts


def attack_direction(players: np.ndarray) -> float:
    """+1 if the team in slots 0-10 of ``players`` (T, 22, 2) attacks +x, -1 if -x: the hypothesis
    that puts each team's rearmost player (its goalkeeper, as a rule) nearer its own goal line."""
    with np.errstate(all="ignore"):
        mean_x = np.nanmean(players[..., 0], axis=0)
    first, second = mean_x[:11], mean_x[11:]
    half = 52.5
    plus = (np.nanmin(first) + half) + (half - np.nanmax(second))
    minus = (half - np.nanmax(first)) + (np.nanmin(second) + half)
    return 1.0 if plus <= minus else -1.0


def array_window(positions: np.ndarray, attacks: str | None, step: int) -> tuple[Window, str]:
    """The window of positions (T, 23, 2), ``step`` frames apart, and how its direction was set."""
    if attacks is None:
        direction = attack_direction(positions[:, :PLAYERS])
        other = "-x" if direction > 0 else "+x"
        said = f"inferred from where the goalkeepers stand (pass attacks='{other}' if wrong)"
    elif attacks in ("+x", "-x"):
        direction, said = (1.0 if attacks == "+x" else -1.0), "as given"
    else:
        raise ValueError(f"attacks={attacks!r}: give '+x' or '-x' (the goal rows 0-10 attack), or None.")
    steps = len(positions)
    players = positions[:, :PLAYERS].astype(np.float32)
    present = np.isfinite(players).all(axis=-1)
    ball = np.column_stack([positions[:, PLAYERS], np.full(steps, np.nan)]).astype(np.float32)
    window = Window(
        match_index=0,
        start=0,
        players=np.where(present[..., None], players, np.nan),
        detected=present,
        ball=ball,
        ball_detected=np.isfinite(ball[:, 0]),
        dropped=np.zeros((steps, AGENTS), bool),
        columns=np.where(present.any(axis=0), np.arange(PLAYERS), -1),
        team=np.repeat(np.arange(2), 11),
        times=(np.arange(steps) * step / FPS).astype(np.float32),
        phases=np.full(steps, -1, np.int64),
        home_direction=direction,
        flips=(False, False),
    )
    side = "+x" if direction > 0 else "-x"
    return window, f"rows 0-10 attack {side}, {said}"


def positions_array(value: Any, index: int, frames: int, step: int, last: bool) -> np.ndarray:
    """The steps a window reads from one array input (T, 23, 2) metres at 10 fps: every ``step``-th of
    its last (``last``) or first ``frames`` frames; a clear error when it cannot be that."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 3 or array.shape[1:] != (AGENTS, 2):
        raise ValueError(
            f"array {index} has shape {array.shape}: give (frames, 23, 2) metres. Accepted: {ACCEPTED}."
        )
    if len(array) < frames:
        raise ValueError(
            f"array {index} has {len(array)} frames; the model needs {frames} ({frames / FPS:g} s at 10 fps)."
        )
    kept = array[-frames::step] if last else array[:frames:step]
    if np.isfinite(kept[..., 0]).sum(axis=1).min() < 2:
        raise ValueError(f"array {index} has a step with fewer than two positions: is it (frames, 23, 2)?")
    return kept


@dataclass
class TrackingReport:
    """What the tracking predictors read: one item per window (``frames`` is what ``run`` gets)."""

    frames: list[Any] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return "\n".join([f"Read {len(self.frames)} window{'s' * (len(self.frames) != 1)}.", *self.notes])


def tracking_items(inputs: Any) -> tuple[Path | None, list[np.ndarray]]:
    """(a match path, or None and the arrays): the two kinds of tracking input."""
    if isinstance(inputs, str | Path):
        return Path(inputs), []
    if isinstance(inputs, np.ndarray) and inputs.ndim == 3:
        return None, [inputs]
    if (
        isinstance(inputs, np.ndarray | list | tuple)
        and len(inputs)
        and not isinstance(inputs[0], str | Path)
    ):
        return None, list(inputs)
    raise ValueError(f"Tracking models read tracking data, not {type(inputs).__name__}. Give {ACCEPTED}.")


def refuse_frame_options(every: int) -> None:
    if every != 1:
        raise ValueError(
            "every= samples video frames; tracking models choose their moments with at= or frame=."
        )
