"""Synthetic SkillCorner open-data matches: the real files, from a simulated game with known truth.

:func:`write_match` writes ``<id>_match.json``, ``<id>_tracking_extrapolated.jsonl`` and
``<id>_phases_of_play.csv`` exactly as SkillCorner's open data lays them out (v3 tracking:
one JSON object per line with ``frame``, ``timestamp``, ``period``, ``ball_data``,
``possession``, ``image_corners_projection``, ``player_data``), so kloppy and the loader read
them like a real match, plus a side file ``<id>_formations.json`` with the truth no real
release has: each team's formation in every phase of play.

The game (10 fps, metres, origin at the centre mark, y from bottom to top):

* each team keeps a formation (:data:`FORMATIONS`) as a block that slides with the ball:
  stretched in possession, compact without it, its defensive line high, medium or low with
  the ball's depth; players chase their slot with bounded speed and acceleration, wander
  around it, and forwards sometimes run in behind;
* the ball circulates: the carrier dribbles, then passes to an open team-mate (long balls
  are lofted); opponents near the passing lane intercept; pressing defenders (two in a high
  block) close down the carrier; shots end in the goalkeeper's hands;
* the broadcast camera follows the ball: players outside its view, or briefly hidden, are
  ``is_detected: false`` with SkillCorner-style extrapolated positions that drift from the
  truth; detected positions carry a few centimetres of jitter; replays and close-ups leave
  stretches of frames with no tracking at all; one substitution per team in the second half;
* formations change only at such cut-aways and at half time, so each phase has one per team.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from colab_utils.tracking.skillcorner import DEFENDING_PHASE_NAMES, PHASE_NAMES

FPS = 10
DT = 1.0 / FPS
HALF_LENGTH, HALF_WIDTH = 52.5, 34.0
BALL_RADIUS = 0.11
PRE_KICKOFF_FRAMES = 10  # frames before kick-off: period null, nothing tracked (as in the real files)
HALF_TIME_FRAMES = 300  # frame numbers skipped between the halves

ROLES: dict[str, tuple[int, str]] = {
    "GK": (0, "Goalkeeper"),
    "CB": (2, "Center Back"),
    "LCB": (3, "Left Center Back"),
    "RCB": (4, "Right Center Back"),
    "LWB": (5, "Left Wing Back"),
    "RWB": (6, "Right Wing Back"),
    "DM": (7, "Defensive Midfield"),
    "CM": (8, "Center Midfield"),
    "LM": (9, "Left Midfield"),
    "RM": (10, "Right Midfield"),
    "AM": (11, "Attacking Midfield"),
    "LW": (12, "Left Winger"),
    "RW": (13, "Right Winger"),
    "LF": (14, "Left Forward"),
    "CF": (15, "Center Forward"),
    "RF": (16, "Right Forward"),
    "SUB": (17, "Substitute"),
    "LB": (19, "Left Back"),
    "RB": (20, "Right Back"),
    "LDM": (21, "Left Defensive Midfield"),
    "RDM": (22, "Right Defensive Midfield"),
}
"""SkillCorner's ``player_role`` ids and names (the ids kloppy maps to positions)."""

_BACK_FOUR = (("LB", 0.0, 0.85), ("LCB", 0.0, 0.3), ("RCB", 0.0, -0.3), ("RB", 0.0, -0.85))
FORMATIONS: dict[str, tuple[tuple[str, float, float], ...]] = {
    "4-4-2": _BACK_FOUR
    + (("LM", 0.5, 0.8), ("LDM", 0.45, 0.25), ("RDM", 0.45, -0.25), ("RM", 0.5, -0.8))
    + (("LF", 1.0, 0.22), ("RF", 1.0, -0.22)),
    "4-3-3": _BACK_FOUR
    + (("DM", 0.33, 0.0), ("CM", 0.58, 0.42), ("CM", 0.58, -0.42))
    + (("LW", 1.0, 0.75), ("CF", 1.0, 0.0), ("RW", 1.0, -0.75)),
    "3-5-2": (("LCB", 0.0, 0.55), ("CB", 0.0, 0.0), ("RCB", 0.0, -0.55))
    + (("LWB", 0.45, 0.9), ("DM", 0.35, 0.0), ("CM", 0.6, 0.35), ("CM", 0.6, -0.35), ("RWB", 0.45, -0.9))
    + (("LF", 1.0, 0.2), ("RF", 1.0, -0.2)),
    "4-2-3-1": _BACK_FOUR
    + (("LDM", 0.33, 0.25), ("RDM", 0.33, -0.25))
    + (("LW", 0.72, 0.8), ("AM", 0.72, 0.0), ("RW", 0.72, -0.8), ("CF", 1.0, 0.0)),
}
"""The ten outfield slots of each formation, back to front: (role, depth 0..1 from the back
line to the front line, width -1..1 with + on the team's left as it attacks)."""
FORMATION_NAMES = tuple(FORMATIONS)


@dataclass
class SimulatedMatch:
    """Everything a synthetic match's files hold, as arrays (positions exactly as written)."""

    match_id: int
    meta: dict  # the match JSON
    frame_ids: np.ndarray  # [T] frames written with a period (kick-off onwards)
    periods: np.ndarray  # [T]
    clock: np.ndarray  # [T] match clock, seconds
    tracked: np.ndarray  # [T] bool: False in replays / close-ups (player_data empty)
    positions: np.ndarray  # [T, N, 2] float64 as written (rounded to cm), NaN when absent
    detected: np.ndarray  # [T, N] bool
    truth: np.ndarray  # [T, N, 2] the simulated positions before jitter and extrapolation error
    ball: np.ndarray  # [T, 3] as written, NaN when not tracked
    ball_detected: np.ndarray  # [T] bool
    possession: np.ndarray  # [T] -1 / 0 home / 1 away
    carrier: np.ndarray  # [T] column of the player on the ball, -1 when none
    phases: np.ndarray  # [T] index into PHASE_NAMES, -1 when none
    defending_phases: np.ndarray  # [T] index into DEFENDING_PHASE_NAMES
    formations: np.ndarray  # [T, 2] index into FORMATION_NAMES (home, away)
    corners: np.ndarray  # [T, 8] the camera's view on the ground (image_corners_projection)


# ----------------------------------------------------------------------------- the game


class _Game:
    """The simulation state; :meth:`frame` advances it by one tenth of a second."""

    def __init__(self, rng: np.random.Generator, formations: tuple[str, str], home_sign: float) -> None:
        self.rng = rng
        self.formation = [formations[0], formations[1]]
        self.sign = np.array([home_sign, -home_sign])  # attacking direction along x per team
        self.team = np.repeat([0, 1], 11)
        self.pos = np.zeros((22, 2))
        self.vel = np.zeros((22, 2))
        self.wander = rng.normal(0, 1.5, (22, 2))  # each player's slowly varying offset from his slot
        self.run_timer = np.zeros(22)  # off-ball runs in behind
        self.owner = 0  # team in possession
        self.carrier = -1
        self.hold = 0.0
        self.flight: dict | None = None
        self.ball = np.array([0.0, 0.0, BALL_RADIUS])
        self.ball_vel = np.zeros(2)
        self.since_turnover = 99.0
        self.since_restart = 99.0
        self.direct = False
        self.shot_ended = False

    # --------------------------------------------------------------- shapes

    def kickoff(self, team: int) -> None:
        self.owner = team
        for t in (0, 1):
            self.pos[self.team == t] = self._shape(t, ball_depth=-30.0 if t == team else -35.0)
        self.vel[:] = 0
        striker = 11 * team + 10
        self.pos[striker] = (-0.5 * self.sign[team], 0.0)
        self.carrier, self.hold, self.flight = striker, 1.0, None
        self.ball = np.array([0.0, 0.0, BALL_RADIUS])
        self.since_turnover, self.since_restart = 99.0, 0.0

    def _to_pitch(self, team: int, u: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Team frame (u forward, w to the team's left) to pitch x, y: a half-turn for the -x team."""
        s = self.sign[team]
        return np.stack([s * u, s * w], axis=-1)

    def _shape(
        self, team: int, ball_depth: float, ball_side: float = 0.0, attacking: bool = True
    ) -> np.ndarray:
        """Slot positions [11, 2] of a team's block for the ball at (depth, side) in its frame."""
        slots = FORMATIONS[self.formation[team]]
        depth = np.array([d for _, d, _ in slots])
        width = np.array([w for _, _, w in slots])
        if attacking:
            line, length, half_width, shift = np.clip(ball_depth - 28, -38, 12), 36.0, 29.0, 0.25
        else:
            line, length, half_width, shift = np.clip(ball_depth - 17, -45, 2), 24.0, 19.0, 0.45
        u = np.concatenate([[-HALF_LENGTH + 3 + 0.07 * (ball_depth + HALF_LENGTH)], line + depth * length])
        w = np.concatenate([[0.15 * ball_side], np.clip(shift * ball_side + width * half_width, -32, 32)])
        return self._to_pitch(team, u, w)

    def block_line(self, team: int) -> float:
        """The defending team's back-line depth in its own frame (decides high / medium / low block)."""
        return float(np.clip(self.sign[team] * self.ball[0] - 17, -45, 2))

    # --------------------------------------------------------------- one frame

    def frame(self) -> None:
        rng = self.rng
        self.since_turnover += DT
        self.since_restart += DT
        targets, top_speed = self._targets()
        # players: chase the target with bounded speed and acceleration, plus a little wandering
        desired = (targets - self.pos) / 1.0
        speed = np.linalg.norm(desired, axis=1, keepdims=True)
        desired *= np.minimum(1.0, top_speed[:, None] / np.maximum(speed, 1e-9))
        accel = (desired - self.vel) / 0.6
        norm = np.linalg.norm(accel, axis=1, keepdims=True)
        accel *= np.minimum(1.0, 5.0 / np.maximum(norm, 1e-9))
        self.vel += accel * DT + rng.normal(0, 0.12, (22, 2))
        self.pos += self.vel * DT
        self.pos = np.clip(self.pos, [-HALF_LENGTH - 2, -HALF_WIDTH - 2], [HALF_LENGTH + 2, HALF_WIDTH + 2])
        self.wander += -self.wander / 80.0 + rng.normal(0, 0.17, (22, 2))  # about 1 m, over ~8 s
        self._move_ball()

    def _targets(self) -> tuple[np.ndarray, np.ndarray]:
        att, dfd = self.owner, 1 - self.owner
        targets = np.zeros((22, 2))
        top = np.full(22, 7.0)
        for team in (att, dfd):
            s = self.sign[team]
            depth, side = s * self.ball[0], s * self.ball[1]
            targets[self.team == team] = self._shape(team, depth, side, attacking=team == att)
        targets += self.wander
        # forwards run in behind now and then
        self.run_timer = np.maximum(self.run_timer - DT, 0)
        forwards = np.flatnonzero(self.team == att)[8:]
        starting = forwards[self.rng.random(len(forwards)) < 0.04 * DT]
        self.run_timer[starting] = self.rng.uniform(2, 4, len(starting))
        running = self.run_timer > 0
        targets[running, 0] += 12 * self.sign[self.team[running]]
        top[running] = 8.0
        # after a turnover: the losers sprint back into shape, the winners break
        if self.since_turnover < 4:
            top[self.team == dfd] = 8.0
            targets[self.team == att, 0] += 6 * self.sign[att]
        # pressing: the nearest defenders close down the ball
        carrier_pos = self.pos[self.carrier] if self.carrier >= 0 else self.ball[:2]
        line = self.block_line(dfd)
        pressers = 2 if line > -15 else 1
        reach = 40.0 if line > -15 else (14.0 if line > -32 else 9.0)
        defenders = np.flatnonzero(self.team == dfd)[1:]
        distance = np.linalg.norm(self.pos[defenders] - carrier_pos, axis=1)
        for i in defenders[np.argsort(distance)[:pressers]]:
            if np.linalg.norm(self.pos[i] - carrier_pos) < reach:
                goal_side = np.array([-self.sign[dfd] * 1.5, 0.0])
                targets[i], top[i] = carrier_pos + goal_side, 8.5
        # the carrier dribbles forward, the receiver meets the ball
        if self.carrier >= 0:
            c = self.carrier
            sign = self.sign[att]
            if sign * self.pos[c, 0] < 30:
                targets[c] = self.pos[c] + np.array([3.0 * sign, -0.1 * self.pos[c, 1]])
            else:  # near the box: cut inside rather than run to the goal line
                targets[c] = np.array([34.0 * sign, 0.5 * self.pos[c, 1]])
            top[c] = 4.0
        if self.flight is not None:
            r = self.flight["receiver"]
            targets[r], top[r] = self.flight["end"], 8.0
        return targets, top

    def _move_ball(self) -> None:
        rng = self.rng
        if self.carrier >= 0:
            c = self.carrier
            heading = self.vel[c] / max(np.linalg.norm(self.vel[c]), 1e-9)
            if np.linalg.norm(self.vel[c]) < 0.5:
                heading = np.array([self.sign[self.team[c]], 0.0])
            self.ball = np.array([*(self.pos[c] + 0.6 * heading), BALL_RADIUS])
            self.hold -= DT
            opponents = np.flatnonzero(self.team != self.team[c])
            closest = opponents[np.argmin(np.linalg.norm(self.pos[opponents] - self.pos[c], axis=1))]
            if np.linalg.norm(self.pos[closest] - self.pos[c]) < 1.2 and rng.random() < 0.08:
                self._gain(int(closest), hold=rng.uniform(0.6, 2.0))  # tackled
            elif self.hold <= 0:
                self._release()
            return
        if self.flight is not None:
            f = self.flight
            f["t"] += DT
            tau = min(f["t"] / f["duration"], 1.0)
            xy = f["start"] + tau * (f["end"] - f["start"])
            self.ball = np.array([*xy, BALL_RADIUS + 4 * f["height"] * tau * (1 - tau)])
            if tau >= 1.0:
                self.ball_vel = (f["end"] - f["start"]) / f["duration"] * 0.4
                self.flight = None
                self.direct = False
                if f["shot"]:
                    self.shot_ended = True
                    self._gain(int(np.flatnonzero(self.team == 1 - self.owner)[0]), hold=rng.uniform(2, 4))
            return
        # a loose ball rolls until someone reaches it
        self.ball_vel *= 0.8
        self.ball[:2] += self.ball_vel * DT
        distance = np.linalg.norm(self.pos - self.ball[:2], axis=1)
        nearest = int(np.argmin(distance))
        if distance[nearest] < 1.2:
            self._gain(nearest, hold=rng.uniform(0.6, 2.5))

    def _gain(self, player: int, hold: float) -> None:
        team = int(self.team[player])
        if team != self.owner:
            self.owner, self.since_turnover = team, 0.0
        self.carrier, self.hold = player, hold

    def _release(self) -> None:
        """The carrier shoots (close to goal, sometimes) or passes to the most inviting team-mate."""
        rng, c = self.rng, self.carrier
        att = self.owner
        s = self.sign[att]
        start = self.ball[:2].copy()
        if s * start[0] > 26 and abs(start[1]) < 22 and rng.random() < 0.5:
            end = np.array([s * HALF_LENGTH, rng.uniform(-3.5, 3.5)])
            self._launch(start, end, speed=rng.uniform(20, 28), receiver=None, height=rng.uniform(0.3, 2.0))
            return
        mates = np.flatnonzero((self.team == att) & (np.arange(22) != c))
        offsets = self.pos[mates] - start
        distance = np.linalg.norm(offsets, axis=1)
        opponents = self.pos[self.team != att]
        space = np.min(np.linalg.norm(self.pos[mates][:, None] - opponents[None], axis=2), axis=1)
        forward = s * offsets[:, 0] / np.maximum(distance, 1e-9)
        weight = (
            np.exp(-(((distance - 16) / 12) ** 2))
            * (1.5 + forward * (0.6 - s * start[0] / 60))
            * np.minimum(space, 8) ** 1.5
        )
        weight[(distance < 4) | (distance > 50)] = 0
        if weight.sum() <= 0:
            self.hold = 0.5
            return
        receiver = int(mates[rng.choice(len(mates), p=weight / weight.sum())])
        end = self.pos[receiver] + self.vel[receiver] * (distance[mates == receiver][0] / 15.0)
        end = np.clip(end, [-HALF_LENGTH, -HALF_WIDTH], [HALF_LENGTH, HALF_WIDTH])
        length = float(np.linalg.norm(end - start))
        lofted = length > 30 and rng.random() < 0.7
        speed = rng.uniform(17, 24) if lofted else rng.uniform(11, 18)
        interceptor = self._interceptor(start, end, opponents)
        if interceptor is not None:
            player, point = interceptor
            end, receiver = point, int(np.flatnonzero(self.team != att)[player])
        self.direct = lofted and s * (end[0] - start[0]) > 25
        self._launch(start, end, speed, receiver, height=rng.uniform(3, 10) if lofted else 0.0)

    def _interceptor(self, start: np.ndarray, end: np.ndarray, opponents: np.ndarray) -> tuple | None:
        """An opponent close to the passing lane may cut it out: (his index, where)."""
        lane = end - start
        along = np.clip(((opponents - start) @ lane) / max(lane @ lane, 1e-9), 0.1, 1.0)
        closest = start + along[:, None] * lane
        gap = np.linalg.norm(opponents - closest, axis=1)
        chance = 1 - np.prod(1 - 0.6 * np.exp(-gap / 1.5))
        if self.rng.random() >= chance:
            return None
        player = int(np.argmin(gap))
        return player, closest[player]

    def _launch(self, start, end, speed: float, receiver: int | None, height: float) -> None:
        duration = max(float(np.linalg.norm(end - start)) / speed, DT)
        self.flight = {
            "start": start,
            "end": end,
            "duration": duration,
            "t": 0.0,
            "height": height,
            "receiver": receiver if receiver is not None else int(np.flatnonzero(self.team != self.owner)[0]),
            "shot": receiver is None,
        }
        self.carrier = -1

    # --------------------------------------------------------------- labels

    def phase_labels(self) -> tuple[int, int]:
        """(in-possession phase, out-of-possession phase) indices for this frame."""
        if self.since_restart < 3:
            return PHASE_NAMES.index("set_play"), DEFENDING_PHASE_NAMES.index("defending_set_play")
        if self.since_turnover < 4:
            return PHASE_NAMES.index("transition"), DEFENDING_PHASE_NAMES.index("defending_transition")
        if self.direct:
            return PHASE_NAMES.index("direct"), DEFENDING_PHASE_NAMES.index("defending_direct")
        depth = self.sign[self.owner] * self.ball[0]
        attacking = "build_up" if depth < -17.5 else ("create" if depth < 17.5 else "finish")
        line = self.block_line(1 - self.owner)
        block = "high_block" if line > -15 else ("medium_block" if line > -32 else "low_block")
        return PHASE_NAMES.index(attacking), DEFENDING_PHASE_NAMES.index(block)


# ----------------------------------------------------------------------------- the match


def simulate_match(
    match_id: int,
    seed: int,
    minutes: float = 90.0,
    formations: tuple[str, str] | None = None,
    switch_prob: float = 0.3,
    cutaways_per_minute: float = 0.4,
) -> SimulatedMatch:
    """A match of ``minutes`` (two equal halves) as the arrays :func:`write_match` writes."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(match_id)]))
    for name in formations or ():
        if name not in FORMATIONS:
            raise ValueError(f"unknown formation {name!r}; known: {', '.join(FORMATION_NAMES)}")
    chosen = tuple(formations or rng.choice(FORMATION_NAMES, 2))
    meta = _match_sheet(rng, match_id, chosen)
    n, squad = len(meta["players"]), len(meta["players"]) // 2
    half_frames = max(round(minutes * 60 * FPS / 2), 1)
    sub_at = rng.choice(np.arange(half_frames // 4, 3 * half_frames // 4 + 2), 2, replace=False)
    home_sign = 1.0 if meta["home_team_side"][0] == "left_to_right" else -1.0
    game = _Game(rng, chosen, home_sign)
    columns = {name: [] for name in ("truth", "ball", "owner", "carrier", "phase", "dphase", "form")}
    frames, periods, clock, tracked = [], [], [], []
    slot_column = np.concatenate([np.arange(11), squad + np.arange(11)])  # column of each on-pitch slot
    frame_id = PRE_KICKOFF_FRAMES
    cut_left = 0
    for period in (1, 2):
        if period == 2:
            game.sign = -game.sign
            frame_id += HALF_TIME_FRAMES
            for team in (0, 1):
                if rng.random() < switch_prob:
                    game.formation[team] = str(rng.choice(FORMATION_NAMES))
        game.kickoff(team=period - 1)
        for k in range(half_frames):
            for team in np.flatnonzero(sub_at == k) if period == 2 else ():
                slot = 11 * team + int(rng.integers(5, 11))
                on, off = meta["players"][squad * team + 11], meta["players"][slot_column[slot]]
                on["start_time"] = off["end_time"] = _timestamp(45 * 60 + k * DT)[:8]
                slot_column[slot] = squad * team + 11
            game.frame()
            cut_left = max(cut_left - 1, 0)
            if game.shot_ended or (cut_left == 0 and rng.random() < cutaways_per_minute / 60 * DT):
                cut_left = int(rng.uniform(4, 9) * FPS)
                game.shot_ended = False
                game.since_restart = -cut_left * DT
                for team in (0, 1):
                    if rng.random() < switch_prob:
                        game.formation[team] = str(rng.choice(FORMATION_NAMES))
            truth = np.full((n, 2), np.nan)
            truth[slot_column] = game.pos
            columns["truth"].append(truth)
            columns["ball"].append(game.ball.copy())
            columns["owner"].append(game.owner)
            columns["carrier"].append(slot_column[game.carrier] if game.carrier >= 0 else -1)
            phase, dphase = game.phase_labels() if cut_left == 0 else (-1, -1)
            columns["phase"].append(phase)
            columns["dphase"].append(dphase)
            columns["form"].append([FORMATION_NAMES.index(f) for f in game.formation])
            frames.append(frame_id)
            periods.append(period)
            clock.append((period - 1) * 45 * 60 + k * DT)
            tracked.append(cut_left == 0)
            frame_id += 1
    truth = np.stack(columns["truth"])
    tracked_ = np.array(tracked)
    positions, detected, ball, ball_detected, corners = _broadcast(
        rng, truth, np.stack(columns["ball"]), tracked_
    )
    owner = np.where(tracked_, np.array(columns["owner"]), -1)
    return SimulatedMatch(
        match_id=int(match_id),
        meta=meta,
        frame_ids=np.array(frames),
        periods=np.array(periods),
        clock=np.array(clock),
        tracked=tracked_,
        positions=positions,
        detected=detected,
        truth=truth,
        ball=ball,
        ball_detected=ball_detected,
        possession=owner,
        carrier=np.where(tracked_, np.array(columns["carrier"]), -1),
        phases=np.array(columns["phase"]),
        defending_phases=np.array(columns["dphase"]),
        formations=np.array(columns["form"]),
        corners=corners,
    )


def _match_sheet(rng: np.random.Generator, match_id: int, formations: tuple[str, ...]) -> dict:
    """The match JSON; each team lists its 11 starters by slot, its substitute, then two unused."""
    team_ids = [100 + 2 * (match_id % 1000), 101 + 2 * (match_id % 1000)]
    players = []
    next_id = 10_000 * (match_id % 1000 + 1)
    for team, formation in enumerate(formations):
        roles = ["GK"] + [role for role, _, _ in FORMATIONS[formation]] + ["CM", "SUB", "SUB"]
        numbers = rng.permutation(np.arange(2, 40))[: len(roles)]
        numbers[0] = 1
        for k, role in enumerate(roles):
            next_id += 1
            role_id, role_name = ROLES[role]
            starter = k < 11
            players.append(
                {
                    "player_role": {"id": role_id, "name": role_name, "acronym": role},
                    "start_time": "00:00:00" if starter else None,
                    "end_time": None,
                    "number": int(numbers[k]),
                    "yellow_card": 0,
                    "red_card": 0,
                    "injured": False,
                    "goal": 0,
                    "own_goal": 0,
                    "team_player_id": next_id + 500_000,
                    "team_id": team_ids[team],
                    "id": next_id,
                    "first_name": f"Player{k + 1}",
                    "last_name": ("Home", "Away")[team],
                    "short_name": f"P{k + 1} {('Home', 'Away')[team]}",
                    "birthday": "2000-01-01",
                    "trackable_object": next_id + 900_000,
                    "gender": "male",
                }
            )
    sides = ["left_to_right", "right_to_left"] if rng.random() < 0.5 else ["right_to_left", "left_to_right"]
    meta = {
        "id": int(match_id),
        "home_team_score": int(rng.integers(0, 4)),
        "away_team_score": int(rng.integers(0, 4)),
        "date_time": "2024-11-23T08:00:00Z",
        "stadium": {"id": 1, "name": "Synthetic Park", "city": "Nowhere", "capacity": 20000},
        "home_team": {"id": team_ids[0], "name": "Synthetic Home FC", "short_name": "Home", "acronym": "HOM"},
        "home_team_kit": {
            "id": 1,
            "team_id": team_ids[0],
            "jersey_color": "#d62728",
            "number_color": "#ffffff",
        },
        "away_team": {"id": team_ids[1], "name": "Synthetic Away FC", "short_name": "Away", "acronym": "AWY"},
        "away_team_kit": {
            "id": 2,
            "team_id": team_ids[1],
            "jersey_color": "#1f77b4",
            "number_color": "#ffffff",
        },
        "home_team_coach": None,
        "away_team_coach": None,
        "competition_edition": {"id": 1, "name": "Synthetic League 2024/2025"},
        "competition_round": {"id": 1, "name": "Round 1", "round_number": 1, "potential_overtime": False},
        "referees": [],
        "players": players,
        "status": "closed",
        "home_team_side": sides,
        "ball": {"trackable_object": 55},
        "pitch_length": 105,
        "pitch_width": 68,
    }
    return meta


def _markov(rng: np.random.Generator, shape: tuple[int, ...], start: float, stop: float) -> np.ndarray:
    """Bursts [T, ...] bool: a state switching on with probability ``start`` per frame, off with ``stop``."""
    state = np.zeros(shape[1:], bool)
    out = np.zeros(shape, bool)
    draws = rng.random(shape)
    for t in range(shape[0]):
        state = np.where(state, draws[t] >= stop, draws[t] < start)
        out[t] = state
    return out


def _broadcast(
    rng: np.random.Generator, truth: np.ndarray, ball: np.ndarray, tracked: np.ndarray
) -> tuple[np.ndarray, ...]:
    """What a broadcast tracker records: detections in the camera's view, extrapolations outside."""
    count, n = truth.shape[:2]
    camera = np.empty(count)
    camera[0] = ball[0, 0]
    for t in range(1, count):
        camera[t] = camera[t - 1] + 0.12 * (ball[t, 0] - camera[t - 1])
    half_view = 24 + 6 * np.sin(np.arange(count) / (40 * FPS) * 2 * np.pi)
    hidden = _markov(rng, (count, n), 0.01, 0.2)
    present = ~np.isnan(truth[..., 0])
    detected = present & (np.abs(truth[..., 0] - camera[:, None]) < half_view[:, None]) & ~hidden
    # extrapolation error: a random walk while out of sight that fades once seen again
    drift = np.zeros((n, 2))
    error = np.zeros_like(truth)
    steps = rng.normal(0, 0.05, (count, n, 2))
    jitter = rng.normal(0, 0.04, (count, n, 2))
    for t in range(count):
        drift = np.where(detected[t][:, None], 0.6 * drift, np.clip(drift + steps[t], -5, 5))
        error[t] = drift + jitter[t]
    positions = np.round(truth + error, 2)
    lost = _markov(rng, (count,), 0.003, 0.25)  # the tracker loses the ball altogether
    ball_detected = ~_markov(rng, (count,), 0.02, 0.3) & ~lost
    ball_out = np.round(ball + rng.normal(0, 0.08, ball.shape) * np.array([1, 1, 0.3]), 2)
    ball_out[:, 2] = np.maximum(ball_out[:, 2], 0.0)
    ball_out[lost] = np.nan
    corners = np.stack(
        [
            camera - 1.4 * half_view,
            np.full(count, 39.0),
            camera - 0.6 * half_view,
            np.full(count, -30.0),
            camera + 0.6 * half_view,
            np.full(count, -30.0),
            camera + 1.4 * half_view,
            np.full(count, 39.0),
        ],
        axis=1,
    ).round(2)
    positions[~tracked] = np.nan
    detected[~tracked] = False
    ball_out[~tracked] = np.nan
    ball_detected &= tracked
    return positions, detected, ball_out, ball_detected, corners


# ----------------------------------------------------------------------------- the files


def write_match(
    folder: Path,
    match_id: int,
    seed: int,
    minutes: float = 90.0,
    formations: tuple[str, str] | None = None,
    switch_prob: float = 0.3,
    cutaways_per_minute: float = 0.4,
) -> Path:
    """Simulate a match and write its files into ``folder/<match_id>/``; returns that folder."""
    match = simulate_match(match_id, seed, minutes, formations, switch_prob, cutaways_per_minute)
    out = Path(folder) / str(match_id)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{match_id}_match.json").write_text(json.dumps(match.meta))
    _write_tracking(out / f"{match_id}_tracking_extrapolated.jsonl", match)
    rows = _phase_rows(match)
    _write_phases(out / f"{match_id}_phases_of_play.csv", match, rows)
    _write_formations(out / f"{match_id}_formations.json", match, rows)
    return out


def _timestamp(seconds: float) -> str:
    hours, rest = divmod(round(seconds * 100), 360_000)
    minutes, rest = divmod(rest, 6000)
    return f"{hours:02d}:{minutes:02d}:{rest // 100:02d}.{rest % 100:02d}"


def _number(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 2)


def _write_tracking(path: Path, match: SimulatedMatch) -> None:
    ids = [p["id"] for p in match.meta["players"]]
    groups = {-1: None, 0: "home team", 1: "away team"}
    names = ("x_top_left", "y_top_left", "x_bottom_left", "y_bottom_left")
    names += ("x_bottom_right", "y_bottom_right", "x_top_right", "y_top_right")
    empty_ball = {"x": None, "y": None, "z": None, "is_detected": None}
    with open(path, "w") as handle:
        for frame in range(PRE_KICKOFF_FRAMES):
            record = {"frame": frame, "timestamp": None, "period": None, "ball_data": empty_ball}
            record |= {"possession": {"player_id": None, "group": None}}
            record |= {"image_corners_projection": dict.fromkeys(names), "player_data": []}
            handle.write(json.dumps(record) + "\n")
        for t, frame in enumerate(match.frame_ids):
            ball = match.ball[t]
            if np.isnan(ball[0]):
                ball_data = empty_ball
            else:
                ball_data = {"x": _number(ball[0]), "y": _number(ball[1]), "z": _number(ball[2])}
                ball_data["is_detected"] = bool(match.ball_detected[t])
            carrier = int(match.carrier[t])
            players = []
            if match.tracked[t]:
                for i in np.flatnonzero(~np.isnan(match.positions[t, :, 0])):
                    x, y = match.positions[t, i]
                    players.append(
                        {
                            "x": _number(x),
                            "y": _number(y),
                            "player_id": ids[i],
                            "is_detected": bool(match.detected[t, i]),
                        }
                    )
            record = {
                "frame": int(frame),
                "timestamp": _timestamp(match.clock[t]),
                "period": int(match.periods[t]),
                "ball_data": ball_data,
                "possession": {
                    "player_id": ids[carrier] if carrier >= 0 else None,
                    "group": groups[int(match.possession[t])],
                },
                "image_corners_projection": dict(zip(names, map(float, match.corners[t]), strict=True))
                if match.tracked[t]
                else dict.fromkeys(names),
                "player_data": players,
            }
            handle.write(json.dumps(record) + "\n")


@dataclass(frozen=True)
class _PhaseRow:
    start: int  # index into the frame arrays
    end: int  # inclusive
    team: int
    phase: int
    defending: int


def _phase_rows(match: SimulatedMatch, min_frames: int = 10) -> list[_PhaseRow]:
    """Runs of equal (team, phases) labels; runs shorter than a second join the run before them."""
    key = np.stack([match.possession, match.phases, match.defending_phases, match.periods], axis=1)
    key[match.phases < 0] = -1
    rows: list[list[int]] = []
    for t in range(len(key)):
        label = key[t].tolist()
        if label[1] < 0:
            continue
        previous = rows[-1] if rows else None
        contiguous = previous is not None and previous[1] == t - 1 and previous[5] == label[3]
        if contiguous and (previous[2:5] == label[:3] or t - previous[0] < min_frames):
            previous[1] = t
        else:
            rows.append([t, t, *label[:3], label[3]])
    return [_PhaseRow(a, b, team, phase, defending) for a, b, team, phase, defending, _ in rows]


def _third(depth: float) -> tuple[int, str]:
    return (
        (1, "defensive_third")
        if depth < -17.5
        else ((2, "middle_third") if depth < 17.5 else (3, "attacking_third"))
    )


def _channel(side: float) -> tuple[int, str]:
    edges = [
        (-20.16, 0, "wide_right"),
        (-9.16, 1, "half_space_right"),
        (9.16, 2, "center"),
        (20.16, 3, "half_space_left"),
    ]
    for edge, index, name in edges:
        if side < edge:
            return index, name
    return 4, "wide_left"


def _extent(points: np.ndarray) -> tuple[float, float]:
    """(width, length) of a team's outfield players, metres."""
    points = points[~np.isnan(points[:, 0])]
    if len(points) < 2:
        return float("nan"), float("nan")
    return float(np.ptp(points[:, 1])), float(np.ptp(points[:, 0]))


def _write_phases(path: Path, match: SimulatedMatch, rows: list[_PhaseRow]) -> None:
    meta = match.meta
    team_ids = (meta["home_team"]["id"], meta["away_team"]["id"])
    short = (meta["home_team"]["short_name"], meta["away_team"]["short_name"])
    fields = [
        "index", "match_id", "frame_start", "frame_end", "time_start", "time_end", "minute_start",
        "second_start", "duration", "period", "attacking_side_id", "team_in_possession_id", "attacking_side",
        "team_in_possession_shortname", "n_player_possessions_in_phase", "team_possession_loss_in_phase",
        "team_possession_lead_to_goal", "team_possession_lead_to_shot", "team_in_possession_phase_type",
        "team_in_possession_phase_type_id", "team_out_of_possession_phase_type",
        "team_out_of_possession_phase_type_id", "x_start", "y_start", "channel_id_start", "channel_start",
        "third_id_start", "third_start", "penalty_area_start", "x_end", "y_end", "channel_id_end",
        "channel_end",
        "third_id_end", "third_end", "penalty_area_end", "team_in_possession_width_start",
        "team_in_possession_width_end", "team_in_possession_length_start", "team_in_possession_length_end",
        "team_out_of_possession_width_start", "team_out_of_possession_width_end",
        "team_out_of_possession_length_start", "team_out_of_possession_length_end",
    ]  # fmt: skip
    home_sides = meta["home_team_side"]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for index, row in enumerate(rows):
            period = int(match.periods[row.start])
            side = home_sides[period - 1] if row.team == 0 else _other_side(home_sides[period - 1])
            sign = 1.0 if side == "left_to_right" else -1.0
            carriers = match.carrier[row.start : row.end + 1]
            changes = int(np.count_nonzero(np.diff(carriers[carriers >= 0]))) + 1
            lost = row.end + 1 < len(match.possession) and match.possession[row.end + 1] not in (-1, row.team)
            values = {
                "index": index,
                "match_id": match.match_id,
                "frame_start": int(match.frame_ids[row.start]),
                "frame_end": int(match.frame_ids[row.end]),
                "time_start": _timestamp(match.clock[row.start])[3:-1],
                "time_end": _timestamp(match.clock[row.end])[3:-1],
                "minute_start": int(match.clock[row.start] // 60),
                "second_start": int(match.clock[row.start] % 60),
                "duration": round(float((row.end - row.start + 1) * DT), 1),
                "period": period,
                "attacking_side_id": 1 if side == "left_to_right" else 2,
                "team_in_possession_id": team_ids[row.team],
                "attacking_side": side,
                "team_in_possession_shortname": short[row.team],
                "n_player_possessions_in_phase": changes,
                "team_possession_loss_in_phase": lost,
                "team_possession_lead_to_goal": False,
                "team_possession_lead_to_shot": False,
                "team_in_possession_phase_type": PHASE_NAMES[row.phase],
                "team_in_possession_phase_type_id": row.phase,
                "team_out_of_possession_phase_type": DEFENDING_PHASE_NAMES[row.defending],
                "team_out_of_possession_phase_type_id": row.defending,
            }
            for when, t in (("start", row.start), ("end", row.end)):
                x, y = match.truth[t, :22][:, 0], match.truth[t, :22][:, 1]
                ball = match.ball[t] if not np.isnan(match.ball[t, 0]) else np.zeros(3)
                third, channel = _third(sign * ball[0]), _channel(sign * ball[1])
                values |= {f"x_{when}": _number(ball[0]), f"y_{when}": _number(ball[1])}
                values |= {f"channel_id_{when}": channel[0], f"channel_{when}": channel[1]}
                values |= {f"third_id_{when}": third[0], f"third_{when}": third[1]}
                values[f"penalty_area_{when}"] = bool(sign * ball[0] > 36 and abs(ball[1]) < 20.16)
                team_of = np.repeat([0, 1], 11)
                for prefix, team in (
                    ("team_in_possession", row.team),
                    ("team_out_of_possession", 1 - row.team),
                ):
                    outfield = np.stack([x, y], axis=1)[(team_of == team) & (np.arange(22) % 11 != 0)]
                    width, length = _extent(outfield)
                    values[f"{prefix}_width_{when}"] = _number(width)
                    values[f"{prefix}_length_{when}"] = _number(length)
            writer.writerow(values)


def _other_side(side: str) -> str:
    return "right_to_left" if side == "left_to_right" else "left_to_right"


def _write_formations(path: Path, match: SimulatedMatch, rows: list[_PhaseRow]) -> None:
    """The truth: each team's formation in every phase of play (and the frames where it changed)."""
    phases = [
        {
            "index": index,
            "frame_start": int(match.frame_ids[row.start]),
            "frame_end": int(match.frame_ids[row.end]),
            "home": FORMATION_NAMES[match.formations[row.start, 0]],
            "away": FORMATION_NAMES[match.formations[row.start, 1]],
        }
        for index, row in enumerate(rows)
    ]
    changes = np.flatnonzero(np.any(np.diff(match.formations, axis=0) != 0, axis=1)) + 1
    switches = [
        {"frame": int(match.frame_ids[t]), "home": FORMATION_NAMES[f[0]], "away": FORMATION_NAMES[f[1]]}
        for t, f in ((int(t), match.formations[t]) for t in [0, *changes.tolist()])
    ]
    truth = {"formation_names": list(FORMATION_NAMES), "phases": phases, "switches": switches}
    path.write_text(json.dumps(truth, indent=1))


def read_formations(folder: Path, match_id: int) -> dict:
    """The side file's truth: ``{"formation_names", "phases": [{frame_start, frame_end, home, away}],
    "switches": [{frame, home, away}]}``."""
    return json.loads((Path(folder) / f"{match_id}_formations.json").read_text())
