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

Reading a match or arrays and choosing moments in them is shared with gnn
(:mod:`colab_utils.tracking.inputs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from colab_utils.geometry.pitch_plot import draw_pitch
from colab_utils.inference.base import Predictor, Result
from colab_utils.models.baller2vec.picture import SIDE_COLOURS
from colab_utils.models.baller2vec.rollout import constant_velocity, rollout
from colab_utils.models.baller2vec.task import Baller2VecTask
from colab_utils.models.baller2vec.tokens import window_tensors
from colab_utils.tracking.inputs import (
    AGENTS,
    PLAYERS,
    TrackingReport,
    array_window,
    clock,
    moment_name,
    open_match,
    positions_array,
    refuse_frame_options,
    tracking_items,
    window_starts_at,
)
from colab_utils.tracking.skillcorner import FPS, Match
from colab_utils.tracking.windows import Window, WindowSpec, cut_window

CSV_COLUMNS = ("agent", "team", "player_id", "number", "kind", "step", "time_s", "x", "y")


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
