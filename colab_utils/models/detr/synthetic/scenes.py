"""A synthetic broadcast clip of a match: who is on the pitch, how they move, what the camera sees.

A scene is drawn from one random generator, so the same seed gives the same clip. The main
broadcast camera (the one SoccerNet's tracking clips come from) pans slowly; two teams in
their kits, their goalkeepers, the referee and a linesman run about the part of the pitch in
view, and the ball goes from player to player, along the grass or lofted. Each frame is the
pitch background of :mod:`~colab_utils.synthetic.render` (fixed per clip, so grass and
stands do not flicker) with the figures of :mod:`~colab_utils.models.detr.synthetic.people`
drawn over it, and the box of every figure worth annotating.
"""

from __future__ import annotations

import colorsys
import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from colab_utils.geometry import pitch as P
from colab_utils.geometry.camera import Camera
from colab_utils.geometry.rays import MAX_DEPTH_M, pixel_rays, plane_depth
from colab_utils.models.detr.synthetic.people import (
    BALL_RADIUS_M,
    Kit,
    annotation_box,
    draw_ball,
    draw_person,
    project_figure,
)
from colab_utils.synthetic.cameras import random_camera
from colab_utils.synthetic.render import render_frame

MAIN_CAMERA_MIX: Mapping[str, float] = {"main_high": 0.6, "main_low": 0.4}
PLAYERS_PER_TEAM = (4, 9)  # outfield players of each team in view at the start of a clip
MAX_SPEED = 7.5  # m/s, a sprint
STRIDE_M = 1.3  # running phase: one full cycle per stride
BOUNDS = (P.HALF_L + 3.0, P.HALF_W + 3.0)  # people stay on the pitch and its run-off
_REFEREE_SHIRTS = ((25.0, 25.0, 25.0), (40.0, 220.0, 235.0), (150.0, 80.0, 230.0), (220.0, 120.0, 40.0))


@dataclass(frozen=True)
class Entity:
    """Someone (or the ball) in a clip, with what ``gameinfo.ini`` says about it."""

    track_id: int
    role: str  # player | goalkeeper | referee | ball
    team: str | None = None
    jersey: str | None = None
    detail: str | None = None  # referee position ("main", "side top") or the ball's number
    kit: Kit | None = None
    height_m: float = BALL_RADIUS_M * 2


@dataclass(frozen=True)
class SceneFrame:
    """One rendered frame: the BGR image, the camera, and the boxes and ground points by track id."""

    number: int  # from 1
    image: np.ndarray
    camera: Camera
    boxes: dict[int, tuple[int, int, int, int]]
    ground: dict[int, np.ndarray]  # (x, y) metres under each boxed figure


def _colour(hue: float, saturation: float, value: float) -> tuple[float, float, float]:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return 255.0 * b, 255.0 * g, 255.0 * r


def _kits(rng: np.random.Generator) -> dict[str, Kit]:
    """Kits of both teams, both goalkeepers and the referees, with hues apart from each other."""
    hues = (rng.uniform() + np.array([0.0, 0.33, 0.5, 0.83]) + rng.uniform(-0.04, 0.04, 4)) % 1.0
    rng.shuffle(hues)

    def kit(hue: float, shirt_value: float) -> Kit:
        shirt = _colour(hue, rng.uniform(0.6, 1.0), shirt_value)
        shorts = _colour(hue, 0.1, 0.95) if rng.random() < 0.4 else _colour(hue, 0.7, 0.25)
        skin = _colour(rng.uniform(0.03, 0.09), rng.uniform(0.3, 0.6), rng.uniform(0.35, 0.9))
        hair = _colour(0.08, 0.6, rng.uniform(0.08, 0.6))
        return Kit(shirt, shorts, shirt if rng.random() < 0.5 else shorts, skin, hair)

    referee = _REFEREE_SHIRTS[int(rng.integers(len(_REFEREE_SHIRTS)))]
    return {
        "left": kit(hues[0], rng.uniform(0.55, 1.0)),
        "right": kit(hues[1], rng.uniform(0.55, 1.0)),
        "goalkeeper left": kit(hues[2], 0.9),
        "goalkeeper right": kit(hues[3], 0.9),
        "referee": dataclasses.replace(kit(0.0, 0.2), shirt=referee, shorts=(20.0, 20.0, 20.0)),
    }


def ground_points_in_view(
    camera: Camera, rng: np.random.Generator, count: int, width: int, height: int
) -> np.ndarray:
    """``count`` (x, y) pitch points seen by ``camera``, spread over the frame below the horizon."""
    found = np.zeros((0, 2))
    for _ in range(50):
        uv = np.column_stack(
            [rng.uniform(0, width, 4 * count), rng.uniform(0.15 * height, height, 4 * count)]
        )
        rays = pixel_rays(camera, uv)
        depth = plane_depth(np.repeat(camera.position[None], len(uv), axis=0), rays, 0.0)
        points = (camera.position + depth[:, None] * rays)[:, :2]
        inside = (depth < MAX_DEPTH_M - 1) & (np.abs(points) <= BOUNDS).all(axis=1)
        found = np.concatenate([found, points[inside]])
        if len(found) >= count:
            return found[:count]
    raise RuntimeError("the camera sees too little of the pitch to place anyone in view")


def _entities(rng: np.random.Generator, kits: dict[str, Kit], per_team: tuple[int, int]) -> list[Entity]:
    people: list[Entity] = []

    def add(role: str, **fields: object) -> None:
        people.append(Entity(len(people) + 1, role, height_m=float(rng.uniform(1.7, 1.95)), **fields))

    for team in ("left", "right"):
        jerseys = rng.choice(
            np.arange(2, 31), size=int(rng.integers(per_team[0], per_team[1] + 1)), replace=False
        )
        for jersey in jerseys:
            add("player", team=team, jersey=str(jersey), kit=kits[team])
    for team in ("left", "right"):
        if rng.random() < 0.5:
            add(
                "goalkeeper",
                team=team,
                jersey=str(rng.choice([1, 1, 1, 16, 23])),
                kit=kits[f"goalkeeper {team}"],
            )
    if rng.random() < 0.9:
        add("referee", detail="main", kit=kits["referee"])
    if rng.random() < 0.4:
        add("referee", detail=str(rng.choice(["side top", "side bottom"])), kit=kits["referee"])
    people.append(Entity(len(people) + 1, "ball", detail="1"))
    return people


class _Ball:
    """The ball's path: at a player's feet, then passed (rolling or lofted) to another one."""

    def __init__(self, rng: np.random.Generator, carriers: int) -> None:
        self.rng, self.carriers = rng, carriers
        self.carrier = int(rng.integers(carriers))
        self.flight: tuple[np.ndarray, int, float, float, float] | None = None  # start, to, t0, t1, apex
        self.next_pass = float(rng.uniform(0.3, 1.5))

    def position(self, t: float, feet: np.ndarray, heading: np.ndarray) -> np.ndarray:
        """(x, y, z) of the ball's centre at time ``t`` (z down)."""
        if self.flight is None and t >= self.next_pass and self.carriers > 1:
            target = int((self.carrier + self.rng.integers(1, self.carriers)) % self.carriers)
            start = feet[self.carrier] + 0.5 * heading[self.carrier]
            distance = float(np.linalg.norm(feet[target] - start))
            speed = self.rng.uniform(8.0, 18.0)
            apex = self.rng.uniform(2.0, 6.0) if self.rng.random() < 0.3 else 0.0
            self.flight = (start, target, t, t + max(distance / speed, 0.2), apex)
        if self.flight is not None:
            start, target, t0, t1, apex = self.flight
            share = min(1.0, (t - t0) / (t1 - t0))
            xy = start + share * (feet[target] + 0.5 * heading[target] - start)
            if share >= 1.0:
                self.carrier, self.flight = target, None
                self.next_pass = t + float(self.rng.uniform(0.5, 2.5))
            return np.array([*xy, -BALL_RADIUS_M - 4 * apex * share * (1 - share)])
        xy = feet[self.carrier] + 0.5 * heading[self.carrier]
        return np.array([*xy, -BALL_RADIUS_M])


class Scene:
    """One clip: its camera, its people and ball, and :meth:`frames` to render them one by one."""

    def __init__(
        self,
        rng: np.random.Generator,
        frames: int,
        fps: float,
        width: int,
        height: int,
        camera_mix: Mapping[str, float] | None = None,
        players_per_team: tuple[int, int] = PLAYERS_PER_TEAM,
    ) -> None:
        if not 1 <= players_per_team[0] <= players_per_team[1] <= 29:
            raise ValueError(
                f"players_per_team must be [low, high] with 1 <= low <= high <= 29, got {players_per_team}"
            )
        self.rng, self.count, self.fps, self.width, self.height = rng, frames, fps, width, height
        self.camera, self.camera_kind = random_camera(
            rng, mix=dict(camera_mix or MAIN_CAMERA_MIX), width=width, height=height
        )
        self.pan_per_second = float(rng.uniform(-2.0, 2.0))
        self.background_seed = int(rng.integers(2**31))
        self.entities = _entities(rng, _kits(rng), players_per_team)
        self.people = [e for e in self.entities if e.role != "ball"]
        self.positions = ground_points_in_view(self.camera, rng, len(self.people), width, height)
        angles = rng.uniform(0, 2 * np.pi, len(self.people))
        self.velocities = rng.uniform(0.0, 4.0, (len(self.people), 1)) * np.column_stack(
            [np.cos(angles), np.sin(angles)]
        )
        self.phases = rng.uniform(0, 2 * np.pi, len(self.people))
        players = [i for i, e in enumerate(self.people) if e.role == "player"]
        self.ball = _Ball(rng, len(players))
        self.ball_carriers = np.array(players)

    def _move(self) -> None:
        dt = 1.0 / self.fps
        self.velocities = 0.97 * self.velocities + self.rng.normal(0.0, 3.0 * dt * 4, self.velocities.shape)
        speed = np.linalg.norm(self.velocities, axis=1, keepdims=True)
        self.velocities *= np.minimum(1.0, MAX_SPEED / np.maximum(speed, 1e-9))
        self.positions = self.positions + self.velocities * dt
        bounds = np.array(BOUNDS)
        outside = np.abs(self.positions) > bounds
        self.velocities[outside] *= -1
        self.positions = np.clip(self.positions, -bounds, bounds)
        self.phases += np.linalg.norm(self.velocities, axis=1) * dt * 2 * np.pi / STRIDE_M

    def _draw(self, image: np.ndarray, camera: Camera, ball: np.ndarray) -> tuple[dict, dict]:
        figures = []  # (depth, entity, bottom pixel, top pixel, ground xy)
        for i, person in enumerate(self.people):
            x, y = self.positions[i]
            foot, head, depth = project_figure(
                camera, np.array([x, y, 0.0]), np.array([x, y, -person.height_m])
            )
            figures.append((depth, person, foot, head, self.positions[i], i))
        ball_entity = self.entities[-1]
        centre, _, depth = project_figure(camera, ball, ball)
        figures.append((depth, ball_entity, centre, centre, ball[:2], -1))
        boxes, ground = {}, {}
        for depth, entity, bottom, top, xy, index in sorted(figures, key=lambda f: -f[0]):
            if not np.isfinite(depth):
                continue
            if entity.role == "ball":
                radius = camera.fx * BALL_RADIUS_M / depth
                if not (
                    -radius < bottom[0] < self.width + radius and -radius < bottom[1] < self.height + radius
                ):
                    continue
                extent = draw_ball(image, bottom, radius, float(self.rng.uniform(0.6, 0.85)))
            else:
                tall = float(np.hypot(*(top - bottom)))
                if tall < 1 or not (
                    -tall < bottom[0] < self.width + tall and -tall < bottom[1] < self.height + tall
                ):
                    continue
                extent = draw_person(image, bottom, top, entity.kit, float(self.phases[index]))
            box = annotation_box(extent, self.width, self.height)
            if box is not None:
                boxes[entity.track_id], ground[entity.track_id] = box, np.asarray(xy, dtype=float)
        return dict(sorted(boxes.items())), dict(sorted(ground.items()))

    def frames(self) -> Iterator[SceneFrame]:
        """Render the clip frame by frame (frames are not kept: a 750-frame clip is several GB)."""
        carriers = self.ball_carriers
        for number in range(1, self.count + 1):
            t = (number - 1) / self.fps
            camera = dataclasses.replace(self.camera, pan=self.camera.pan + self.pan_per_second * t)
            image = render_frame(
                camera, np.random.default_rng(self.background_seed), self.width, self.height, False
            )
            headings = self.velocities / np.maximum(
                np.linalg.norm(self.velocities, axis=1, keepdims=True), 1e-9
            )
            ball = self.ball.position(t, self.positions[carriers], headings[carriers])
            boxes, ground = self._draw(image, camera, ball)
            image = cv2.GaussianBlur(image, (0, 0), 0.6)
            yield SceneFrame(number, image, camera, boxes, ground)
            self._move()
