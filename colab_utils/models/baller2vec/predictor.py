"""baller2vec on your tracking data: where every player and the ball go in the next seconds.

The model reads tracking, not frames. Inputs:

* a SkillCorner match, the files the training data uses: the match's folder (holding
  ``<id>_match.json`` and ``<id>_tracking_extrapolated.jsonl``; ``<id>_phases_of_play.csv`` is
  not needed) or the path of either file. It is parsed by kloppy like the training data
  (:mod:`colab_utils.tracking.skillcorner`) and kept in memory for later calls. Which moment:
  ``at`` (the match clock as SkillCorner counts it, ``"47:30"`` or seconds; the second half
  starts at 45:00) or ``frame`` (a SkillCorner frame number), each one value or a list; the
  observed past is the ``history`` steps that end there and the forecast covers the ``future``
  steps after it (both the trained model's, see ``payload["meta"]``). Without either: the
  first moment with enough tracking; ``max_frames`` caps the moments (``every`` is for videos
  and refused). A moment inside a replay or close-up (no tracking) is refused, naming the
  nearest moments before and after it that work;
* or a numpy array ``(frames, 23, 2)`` in metres at 10 fps (SkillCorner's axes: origin at the
  centre mark, x along the length, y towards the top touch line): rows 0-10 one team, 11-21
  the other, 22 the ball, NaN where absent; the last ``history`` steps are the past. Which
  goal the first team attacks is taken from where the goalkeepers stand unless
  ``attacks="+x"`` / ``"-x"`` says so. A list of arrays gives one forecast each.

Outputs per moment: the forecast positions (metres) of the 22 players and the ball for each
future step (:func:`~colab_utils.models.baller2vec.rollout.rollout`, as validation rolls it
out), and for a match what really happened next when the tracking has it, with both errors
(model and constant velocity). ``save()`` writes ``<name>.png`` (the pitch) and ``<name>.csv``
with the columns ``agent, team, player_id, number, kind, step, time_s, x, y``: ``kind`` is
``observed`` (steps ``-history+1 .. 0``), ``forecast`` or ``actual`` (steps ``1 .. future``),
``time_s`` is seconds from the last observed step.

Also here, for the gnn predictor: reading a match and choosing windows in it.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from colab_utils.inference.base import Predictor, Result
from colab_utils.models.baller2vec.picture import SIDE_COLOURS
from colab_utils.models.baller2vec.picture import _draw_pitch as draw_pitch
from colab_utils.models.baller2vec.rollout import constant_velocity, rollout
from colab_utils.models.baller2vec.task import Baller2VecTask
from colab_utils.models.baller2vec.tokens import window_tensors
from colab_utils.tracking.skillcorner import FPS, Match, MatchFiles
from colab_utils.tracking.windows import Window, WindowSpec, cut_window, window_starts

PLAYERS = 22
AGENTS = PLAYERS + 1
ACCEPTED = (
    "a SkillCorner match (its folder with <id>_match.json and <id>_tracking_extrapolated.jsonl, or either "
    "file's path) or a numpy array (frames, 23, 2) of positions in metres at 10 fps (rows 0-10 one team, "
    "11-21 the other, 22 the ball; NaN where absent), or a list of such arrays"
)
CSV_COLUMNS = ("agent", "team", "player_id", "number", "kind", "step", "time_s", "x", "y")


# ----------------------------------------------------------------- matches and moments (shared with gnn)


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


# ----------------------------------------------------------------- the forecast


@dataclass
class ForecastInput:
    """One moment to forecast from: the observed window and, from a match, what happened next."""

    name: str
    source: str
    window: Window
    actual: np.ndarray | None  # (future, 23, 2), NaN where not tracked
    labels: list[dict[str, Any]]  # per agent: team, player_id, number
    until: str  # the last observed moment, in words


@dataclass
class ForecastResult(Result):
    """Observed past (history, 23, 2), forecast (future, 23, 2) and, when known, what happened."""

    name: str
    source: str
    until: str
    observed: np.ndarray
    forecast: np.ndarray
    baseline: np.ndarray  # constant velocity
    actual: np.ndarray | None
    side: np.ndarray  # (23,) 0 attacks +x, 1 attacks -x, 2 the ball
    labels: list[dict[str, Any]]
    step_s: float
    found: bool = True

    def errors(self) -> dict[str, float] | None:
        """Mean distance (m) to what happened, over the players and steps tracked, of both forecasts."""
        if self.actual is None:
            return None
        known = np.isfinite(self.actual[:, :PLAYERS, 0]) & np.isfinite(self.forecast[:, :PLAYERS, 0])
        if not known.any():
            return None

        def error(track: np.ndarray) -> float:
            return float(np.linalg.norm(track[:, :PLAYERS] - self.actual[:, :PLAYERS], axis=-1)[known].mean())

        return {"baller2vec_m": error(self.forecast), "constant_velocity_m": error(self.baseline)}

    def summary(self) -> str:
        future = len(self.forecast) * self.step_s
        text = (
            f"{self.name}: {len(self.observed) * self.step_s:g} s observed until {self.until}, "
            f"{future:g} s forecast for {int(np.isfinite(self.forecast[-1, :, 0]).sum())} agents"
        )
        errors = self.errors()
        if errors:
            text += (
                f"; players' mean error against what happened: {errors['baller2vec_m']:.2f} m "
                f"(constant velocity {errors['constant_velocity_m']:.2f} m)"
            )
        return text

    def figure(self) -> Any:
        import matplotlib.pyplot as plt

        figure, ax = plt.subplots(figsize=(11, 7.4))
        draw_pitch(ax)
        for agent in range(AGENTS):
            colour = SIDE_COLOURS[int(self.side[agent])]
            width = 1.0 if agent < PLAYERS else 1.6
            ax.plot(*self.observed[:, agent].T, color=colour, linewidth=width, alpha=0.45)
            if not np.isfinite(self.forecast[0, agent, 0]):
                continue
            start = self.observed[-1:, agent]
            if self.actual is not None:
                ax.plot(*np.concatenate([start, self.actual[:, agent]]).T, ":", color=colour, linewidth=width)
            ax.plot(*np.concatenate([start, self.forecast[:, agent]]).T, "--", color=colour, linewidth=1.6)
            ax.scatter(*self.forecast[-1, agent], s=14 if agent < PLAYERS else 24, color=colour, zorder=3)
        for label, style, alpha in (
            ("observed", "-", 0.45),
            ("forecast", "--", 1.0),
            ("what happened", ":", 1.0),
        ):
            if label != "what happened" or self.actual is not None:
                ax.plot([], [], style, color="#555555", alpha=alpha, label=label)
        for side, label in enumerate(("attacking +x", "attacking -x", "ball")):
            ax.scatter([], [], color=SIDE_COLOURS[side], label=label)
        ax.legend(loc="upper left", fontsize=8, ncol=6, frameon=False, bbox_to_anchor=(0, 1.06))
        ax.set_title(self.summary().split(": ", 1)[1], fontsize=9, pad=22)
        figure.suptitle(self.name, fontsize=11)
        figure.tight_layout()
        return figure

    def rows(self) -> list[list[Any]]:
        """The CSV rows (see the module docstring), agent by agent."""
        history = len(self.observed)
        parts = [("observed", self.observed, 1 - history), ("forecast", self.forecast, 1)]
        if self.actual is not None:
            parts.append(("actual", self.actual, 1))
        rows = []
        for agent, label in enumerate(self.labels):
            for kind, track, first in parts:
                for offset, (x, y) in enumerate(track[:, agent]):
                    if np.isfinite(x):
                        step = first + offset
                        who = (agent, label["team"], label["player_id"], label["number"])
                        rows.append([*who, kind, step, round(step * self.step_s, 3), float(x), float(y)])
        return rows

    def save(self, folder: Path) -> list[Path]:
        return [self.save_picture(folder), self.save_table(folder, CSV_COLUMNS, self.rows())]

    def to_dict(self) -> dict[str, Any]:
        def points(track: np.ndarray, agent: int) -> list[list[float]] | None:
            return None if not np.isfinite(track[:, agent]).all() else track[:, agent].round(3).tolist()

        return {
            "name": self.name,
            "source": self.source,
            "observed_until": self.until,
            "step_s": self.step_s,
            "errors": self.errors(),
            "agents": [
                {
                    **label,
                    "agent": agent,
                    "attacks": ("+x", "-x", None)[int(self.side[agent])],
                    "forecast": points(self.forecast, agent),
                }
                for agent, label in enumerate(self.labels)
            ],
        }


def _agent_labels(match: Match | None, window: Window) -> list[dict[str, Any]]:
    labels = []
    for slot, column in enumerate(window.columns):
        team = ("home", "away")[int(window.team[slot])]
        player = match.players[column] if match is not None and column >= 0 else None
        labels.append(
            {"team": team, "player_id": player and player.player_id, "number": player and player.number}
        )
    return [*labels, {"team": "ball", "player_id": None, "number": None}]


class TrajectoryForecast(Predictor):
    """Options: ``at`` / ``frame`` (which moments of a match, see the module docstring) and
    ``attacks`` (for arrays: the goal rows 0-10 attack, '+x' or '-x'; default: inferred)."""

    task_class = Baller2VecTask

    found_label = "with a forecast"

    def __init__(
        self,
        payload: dict[str, Any],
        device: str | torch.device,
        at: Any = None,
        frame: Any = None,
        attacks: str | None = None,
    ) -> None:
        super().__init__(payload, device)
        self.at, self.frame, self.attacks = at, frame, attacks
        data = self.cfg.data
        self.history, self.future, self.step = int(data.history), int(data.future), int(data.step)
        self.spec = WindowSpec(self.history, 1, self.step, min_players=int(data.min_players))

    def read(self, inputs: Any, every: int = 1, max_frames: int = 100) -> TrackingReport:
        refuse_frame_options(every)
        path, arrays = tracking_items(inputs)
        report = TrackingReport()
        if path is not None:
            match = open_match(path)
            anchor = self.history - 1  # at / frame name the last observed step
            for start in window_starts_at(match, self.spec, self.at, self.frame, anchor):
                report.frames.append(self._match_input(match, start, str(path)))
            report.notes.append(f"match {match.match_id} ({' - '.join(match.team_names)}), {path}")
        else:
            frames = (self.history - 1) * self.step + 1
            for index, value in enumerate(arrays):
                array = positions_array(value, index, frames, self.step, last=True)
                window, said = array_window(array, self.attacks, self.step)
                labels = _agent_labels(None, window)
                report.frames.append(
                    ForecastInput(
                        f"array_{index:03d}", f"array {index}", window, None, labels, "its last frame"
                    )
                )
                report.notes.append(f"array {index}: {said}")
        if len(report.frames) > max_frames:
            report.notes.append(f"Kept the first {max_frames} of {len(report.frames)} moments (max_frames).")
            report.frames = report.frames[:max_frames]
        return report

    def _match_input(self, match: Match, start: int, source: str) -> ForecastInput:
        window = cut_window(match, 0, start, self.spec)
        last = start + (self.history - 1) * self.step
        ahead = last + self.step * np.arange(1, self.future + 1)
        inside = ahead < match.num_frames
        actual = np.full((self.future, AGENTS, 2), np.nan)
        if inside.any():
            frames = ahead[inside]
            same = (match.periods[frames] == match.periods[last]) & (
                match.frame_ids[frames] - match.frame_ids[last] == frames - last
            )
            columns = np.maximum(window.columns, 0)
            players = np.where(
                window.columns[None, :, None] >= 0, match.positions[frames][:, columns], np.nan
            )
            moved = np.concatenate([players, match.ball[frames][:, None, :2]], axis=1)
            actual[np.flatnonzero(inside)] = np.where(same[:, None, None], moved, np.nan)
        until = f"{clock(match.times[last])} (frame {match.frame_ids[last]})"
        name = moment_name(match, last)
        known = actual if np.isfinite(actual).any() else None
        return ForecastInput(name, f"{source} {until}", window, known, _agent_labels(match, window), until)

    def run(self, inputs: list[ForecastInput]) -> list[ForecastResult]:
        batch = torch.utils.data.default_collate([window_tensors(item.window, None) for item in inputs])
        batch = {key: value.to(self.device) for key, value in batch.items()}
        net = self.model.get_nn_module()
        with self.autocast():
            forecast = rollout(net, batch, self.history, self.future).float().cpu().numpy()
        baseline = (
            constant_velocity(batch["positions"], batch["present"], self.history, self.future).cpu().numpy()
        )
        present = batch["present"].cpu().numpy()
        observed = np.where(present[..., None], batch["positions"].cpu().numpy(), np.nan)
        side = batch["side"].cpu().numpy()
        results = []
        for i, item in enumerate(inputs):
            gone = ~present[i, -1]  # agents absent at the last observed step are not forecast
            results.append(
                ForecastResult(
                    item.name,
                    item.source,
                    item.until,
                    observed[i],
                    np.where(gone[None, :, None], np.nan, forecast[i]),
                    np.where(gone[None, :, None], np.nan, baseline[i]),
                    item.actual,
                    side[i],
                    item.labels,
                    self.step / FPS,
                )
            )
        return results
