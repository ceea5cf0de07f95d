"""The gnn model on your tracking data: each team's formation, each player's role, the phase of play.

Inputs, read as every tracking predictor reads them (:mod:`colab_utils.tracking.inputs`): a
SkillCorner match (its folder, or its ``<id>_match.json`` / ``<id>_tracking_extrapolated.jsonl``)
with ``at`` (match clock) or ``frame`` (SkillCorner frame number) naming the first frame of each
window (without either: the match's first window with enough tracking; ``max_frames`` caps the
windows), or numpy arrays ``(frames, players, 2)`` in metres at 10 fps. An array's rows are by default
one team (0-10), the other (11-21) and the ball (22); ``teams`` gives another layout, one
label per row: 0 / "home", 1 / "away", 2 / "ball". A window is the trained one
(``payload["meta"]["window"]``: e.g. 24 graphs 5 frames apart, 11.5 s); an array longer than
that is read from its first frame. Which goal the first team attacks is, for arrays, taken
from where the goalkeepers stand unless ``attacks`` says so.

Outputs per window, all with probabilities (softmax of the heads): each team's formation
(among the trained templates, :data:`~colab_utils.models.gnn.formations.FORMATIONS`), each
player's role (:data:`~colab_utils.models.gnn.formations.ROLES`, SkillCorner's acronyms) and the
phase of play of the team in possession (SkillCorner's phase names), per graph and over the
window. Next to them, for reference, what needs no network: the formation the labelling
rule (:func:`~colab_utils.models.gnn.formations.label_formation`) finds in the positions and, from
a match, the match sheet's roles and the phases-of-play file's phase. ``save()`` writes
``<name>.png`` (players at their mean positions over the window, coloured by role) and
``<name>.json`` (what ``to_dict()`` gives: ``formations``, ``phase``, ``players``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from colab_utils.geometry.pitch_plot import draw_pitch
from colab_utils.inference.base import Predictor, Result
from colab_utils.models.gnn.formations import label_formation, templates_named
from colab_utils.models.gnn.graphs import (
    BALL,
    batch_graphs,
    formation_labels,
    match_roles,
    window_batch,
)
from colab_utils.models.gnn.task import Gnn, edge_spec
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
from colab_utils.tracking.windows import Window, Windows, WindowSpec, cut_window

ROLE_GROUPS = {
    "goalkeeper": (("GK",), "#e6ab02"),
    "defence": (("LB", "LCB", "CB", "RCB", "RB", "LWB", "RWB"), "#1f78b4"),
    "midfield": (("LDM", "DM", "RDM", "LM", "CM", "RM", "AM"), "#33a02c"),
    "attack": (("LW", "RW", "LF", "CF", "RF"), "#e31a1c"),
}
TEAM_MARKERS = {"home": "o", "away": "s"}
LABELS = {0: 0, 1: 1, 2: BALL, "home": 0, "away": 1, "ball": BALL}


def _role_colour(role: str) -> str:
    return next(colour for roles, colour in ROLE_GROUPS.values() if role in roles)


def _best(names: list[str], probabilities: np.ndarray) -> tuple[str, float]:
    index = int(np.argmax(probabilities))
    return names[index], float(probabilities[index])


def standard_layout(positions: np.ndarray, teams: Any, index: int) -> np.ndarray:
    """Rows of ``positions`` (T, N, 2) in the (T, 23, 2) layout: team 0, team 1 (11 rows each), ball."""
    labels = [LABELS.get(t.item() if isinstance(t, np.generic) else t) for t in teams]
    if len(labels) != positions.shape[1] or None in labels:
        raise ValueError(
            f"array {index}: teams needs one label per row ({positions.shape[1]}), each 0 / 'home', "
            f"1 / 'away' or 2 / 'ball'; got {list(teams)}."
        )
    labels = np.array(labels)
    counts = [int((labels == side).sum()) for side in (0, 1, BALL)]
    if counts[0] > 11 or counts[1] > 11 or counts[2] > 1:
        raise ValueError(
            f"array {index}: teams labels {counts[0]} home, {counts[1]} away and {counts[2]} ball rows."
        )
    layout = np.full((len(positions), AGENTS, 2), np.nan)
    for side, first in ((0, 0), (1, 11)):
        rows = np.flatnonzero(labels == side)
        layout[:, first : first + len(rows)] = positions[:, rows]
    layout[:, PLAYERS] = positions[:, labels == BALL][:, 0] if counts[2] else np.nan
    return layout


@dataclass
class TacticsInput:
    """One window to read, with what the match says about it (for reference)."""

    name: str
    source: str
    window: Window
    start: str  # the window's first moment, in words
    players: list[dict[str, Any]]  # per player slot: team, player_id, number, match_sheet_role
    rule: list[str | None]  # the labelling rule's formation per team (None: no label)
    phase_file: str | None  # the phases-of-play file's most common phase in the window


@dataclass
class TacticsResult(Result):
    """Formations (2, K), roles (players, R) and phases (graphs, P) as probabilities, with names."""

    name: str
    source: str
    start: str
    positions: np.ndarray  # (graphs, tracks, 2): the players present, then the ball; NaN where absent
    players: list[dict[str, Any]]  # per player track
    role_probabilities: np.ndarray
    formation_probabilities: np.ndarray
    phase_probabilities: np.ndarray
    names: dict[str, list[str]]  # roles, formations, phases
    rule: list[str | None]
    phase_file: str | None
    window_s: float
    found: bool = True

    def formations(self) -> dict[str, dict[str, Any]]:
        out = {}
        for side, team in enumerate(("home", "away")):
            name, probability = _best(self.names["formations"], self.formation_probabilities[side])
            out[team] = {
                "formation": name,
                "probability": probability,
                "probabilities": dict(
                    zip(self.names["formations"], self.formation_probabilities[side].tolist(), strict=True)
                ),
                "rule": self.rule[side],
            }
        return out

    def phase(self) -> dict[str, Any]:
        mean = self.phase_probabilities.mean(axis=0)
        name, probability = _best(self.names["phases"], mean)
        per_graph = [self.names["phases"][int(i)] for i in self.phase_probabilities.argmax(axis=1)]
        return {
            "phase": name,
            "probability": probability,
            "probabilities": dict(zip(self.names["phases"], mean.tolist(), strict=True)),
            "per_graph": per_graph,
            "phases_file": self.phase_file,
        }

    def roles(self) -> list[tuple[str, float]]:
        return [_best(self.names["roles"], p) for p in self.role_probabilities]

    def summary(self) -> str:
        teams = "; ".join(
            f"{team} {f['formation']} ({f['probability']:.0%})" for team, f in self.formations().items()
        )
        phase = self.phase()
        told = f", phases file: {phase['phases_file']}" if phase["phases_file"] else ""
        return (
            f"{self.name}: {self.window_s:g} s from {self.start}: {teams}; phase {phase['phase']} "
            f"({phase['probability']:.0%}{told}); {len(self.players)} players' roles"
        )

    def figure(self) -> Any:
        import matplotlib.pyplot as plt

        figure, ax = plt.subplots(figsize=(11, 7.6))
        draw_pitch(ax)
        with np.errstate(all="ignore"):
            mean = np.nanmean(self.positions, axis=0)
        for track, (player, (role, probability)) in enumerate(zip(self.players, self.roles(), strict=True)):
            ax.plot(*self.positions[:, track].T, color="#999999", linewidth=0.6, zorder=1)
            ax.scatter(
                *mean[track],
                s=140,
                marker=TEAM_MARKERS[player["team"]],
                color=_role_colour(role),
                edgecolors="black" if player["team"] == "home" else "white",
                zorder=3,
            )
            ax.annotate(
                f"{role} {probability:.0%}",
                mean[track],
                xytext=(0, 9),
                textcoords="offset points",
                ha="center",
                fontsize=7,
            )
        ax.plot(*self.positions[:, -1].T, color="black", linewidth=1.0, zorder=2)
        for group, (_, colour) in ROLE_GROUPS.items():
            ax.scatter([], [], color=colour, label=group)
        for team, marker in TEAM_MARKERS.items():
            ax.scatter([], [], marker=marker, color="#cccccc", edgecolors="black", label=team)
        ax.plot([], [], color="black", label="ball")
        ax.legend(loc="upper center", fontsize=8, ncol=7, frameon=False, bbox_to_anchor=(0.5, 0.0))
        formations = self.formations()
        phase = self.phase()
        rule = " / ".join(str(formations[team]["rule"]) for team in ("home", "away"))
        ax.set_title(
            f"{self.name}: home {formations['home']['formation']} ({formations['home']['probability']:.0%}), "
            f"away {formations['away']['formation']} ({formations['away']['probability']:.0%}); "
            f"phase {phase['phase']} ({phase['probability']:.0%})\nmean positions over {self.window_s:g} s "
            f"from {self.start}; the rule's formations: {rule}",
            fontsize=9,
        )
        figure.tight_layout()
        return figure

    def save(self, folder: Path) -> list[Path]:
        picture, data = self.save_picture(folder), folder / f"{self.name}.json"
        data.write_text(json.dumps(self.to_dict(), indent=1))
        return [picture, data]

    def to_dict(self) -> dict[str, Any]:
        with np.errstate(all="ignore"):
            mean = np.nanmean(self.positions, axis=0)
        players = []
        for track, (player, (role, probability)) in enumerate(zip(self.players, self.roles(), strict=True)):
            players.append(
                {
                    **player,
                    "role": role,
                    "probability": probability,
                    "probabilities": dict(
                        zip(self.names["roles"], self.role_probabilities[track].tolist(), strict=True)
                    ),
                    "mean_x": float(mean[track, 0]),
                    "mean_y": float(mean[track, 1]),
                }
            )
        return {
            "name": self.name,
            "source": self.source,
            "start": self.start,
            "window_s": self.window_s,
            "formations": self.formations(),
            "phase": self.phase(),
            "players": players,
        }


class Tactics(Predictor):
    """Options: ``at`` / ``frame`` (the first frame of each window of a match), ``teams`` (an array's
    row labels) and ``attacks`` (for arrays: the goal the first team attacks, '+x' or '-x')."""

    task_class = Gnn

    found_label = "with formations, roles and a phase"

    def __init__(
        self,
        payload: dict[str, Any],
        device: str | torch.device,
        at: Any = None,
        frame: Any = None,
        teams: Any = None,
        attacks: str | None = None,
    ) -> None:
        super().__init__(payload, device)
        self.at, self.frame, self.teams, self.attacks = at, frame, teams, attacks
        window = self.cfg.data.window
        self.spec = WindowSpec(
            int(window.frames), 1, int(window.step), min_players=int(self.cfg.data.min_players)
        )
        self.edges = edge_spec(self.cfg)
        self.names = {
            "roles": list(self.meta["roles"]),
            "formations": list(self.meta["formations"]),
            "phases": list(self.meta["phases"]),
        }
        self.templates = templates_named(self.names["formations"])

    def read(self, inputs: Any, every: int = 1, max_frames: int = 100) -> TrackingReport:
        refuse_frame_options(every)
        path, arrays = tracking_items(inputs)
        report = TrackingReport()
        if path is not None:
            match = open_match(path)
            for start in window_starts_at(match, self.spec, self.at, self.frame):
                report.frames.append(self._match_input(match, start, str(path)))
            report.notes.append(f"match {match.match_id} ({' - '.join(match.team_names)}), {path}")
        for index, value in enumerate(arrays):
            array = np.asarray(value, dtype=np.float64)
            if self.teams is not None:
                if array.ndim != 3:
                    raise ValueError(
                        f"array {index} has shape {array.shape}: give (frames, players, 2) metres."
                    )
                array = standard_layout(array, self.teams, index)
            array = positions_array(array, index, self.spec.span, self.spec.step, last=False)
            window, said = array_window(array, self.attacks, self.spec.step)
            players = [
                {
                    "team": ("home", "away")[int(window.team[s])],
                    "player_id": None,
                    "number": None,
                    "match_sheet_role": None,
                }
                for s in range(PLAYERS)
            ]
            rule = [self._rule(window.players[:, window.team == side], np.zeros(11, bool)) for side in (0, 1)]
            start = "its first frame"
            report.frames.append(
                TacticsInput(f"array_{index:03d}", f"array {index}", window, start, players, rule, None)
            )
            report.notes.append(f"array {index}: {said}")
        if len(report.frames) > max_frames:
            report.notes.append(f"Kept the first {max_frames} of {len(report.frames)} windows (max_frames).")
            report.frames = report.frames[:max_frames]
        return report

    def _rule(self, positions: np.ndarray, keepers: np.ndarray) -> str | None:
        label = label_formation(positions, keepers, self.templates)
        return None if label < 0 else self.names["formations"][label]

    def _match_input(self, match: Match, start: int, source: str) -> TacticsInput:
        window = cut_window(match, 0, start, self.spec)
        roles = match_roles(match)
        players = []
        for slot, column in enumerate(window.columns):
            player = match.players[column] if column >= 0 else None
            players.append(
                {
                    "team": ("home", "away")[int(window.team[slot])],
                    "player_id": player and player.player_id,
                    "number": player and player.number,
                    "match_sheet_role": None
                    if player is None or roles[column] < 0
                    else self.names["roles"][roles[column]],
                }
            )
        labels = formation_labels(match, start, self.spec.span, self.templates)
        rule = [None if label < 0 else self.names["formations"][label] for label in labels]
        phases = window.phases[window.phases >= 0]
        phase_file = match.phase_names[int(np.bincount(phases).argmax())] if len(phases) else None
        begins = f"{clock(match.times[start])} (frame {match.frame_ids[start]})"
        return TacticsInput(
            moment_name(match, start), f"{source} {begins}", window, begins, players, rule, phase_file
        )

    def run(self, inputs: list[TacticsInput]) -> list[TacticsResult]:
        windows = Windows.of([item.window for item in inputs])
        unlabelled = window_batch(windows, np.full((len(inputs), PLAYERS), -1), np.full((len(inputs), 2), -1))
        graphs = batch_graphs(unlabelled.to(self.device), self.edges)
        with torch.no_grad(), self.autocast():
            output = self.model.get_nn_module()(graphs)
        role = output["role"].float().softmax(-1).cpu().numpy()
        formation = output["formation"].float().softmax(-1).cpu().numpy()
        phase = output["phase"].float().softmax(-1).cpu().numpy()
        track_window = graphs.track_window.cpu().numpy()
        results = []
        for i, item in enumerate(inputs):
            window = item.window
            slots = np.flatnonzero(
                (window.columns >= 0) & np.isfinite(window.players).all(axis=-1).any(axis=0)
            )
            tracks = np.flatnonzero(track_window == i)[:-1]  # the window's players; its ball is last
            positions = np.concatenate([window.players[:, slots], window.ball[:, None, :2]], axis=1)
            results.append(
                TacticsResult(
                    item.name,
                    item.source,
                    item.start,
                    positions,
                    [item.players[s] for s in slots],
                    role[tracks],
                    formation[i],
                    phase[i],
                    self.names,
                    item.rule,
                    item.phase_file,
                    (self.spec.length - 1) * self.spec.step / FPS,
                )
            )
        return results
