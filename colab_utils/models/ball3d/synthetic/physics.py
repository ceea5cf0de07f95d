"""A football's flight, bounces and roll, integrated at a fine step: the ground truth of ball3d.

World frame of :mod:`colab_utils.geometry.pitch`: z points down, so gravity is +g in z and
the ball's centre rests at z = -radius. The ball is a FIFA-size ball (0.43 kg, r = 0.11 m)
with quadratic air drag ``a = -k |v| v``, ``k = rho Cd A / (2 m)`` (about 0.013 per metre: a
30 m/s shot loses 12 m/s^2 to the air). Spin and the Magnus effect are not modelled.

* Flight: RK4 on (position, velocity) at ``dt`` (10 ms; drag changes the speed on a time
  scale of seconds); exact for constant acceleration, so
  the drag-free closed forms (flight time 2 v0 sin(a)/g, apex v0^2 sin^2(a)/(2g)) hold to
  rounding. A step that ends below the ground is cut at the contact (found from the
  step's start state, then refined), so bounces happen at their true time.
* Bounce: the vertical speed is reversed and scaled by the restitution e (so the next apex
  is e^2 times the last one without drag); friction during the impact removes
  ``mu_b (1 + e) |v_z|`` of the horizontal speed, at most the 40 % a hollow ball loses when
  sliding turns into rolling. A rebound slower than ``rest_speed`` ends the bouncing: the
  ball rolls.
* Roll: a constant rolling-resistance deceleration ``mu_r g`` (plus drag), integrated in
  closed form, so without drag a ball rolling at v stops after exactly v^2 / (2 mu_r g) metres.
* Touches (kicks, headers, deflections) set the velocity at a given time.

The result keeps every step's state, so positions at any time (frames, or the sub-frame
instants of motion blur) come from cubic Hermite interpolation, and the impulse times give
each frame its segment label.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

FLIGHT, BOUNCE, ROLL, TOUCH = 0, 1, 2, 3
SEGMENT_NAMES = ("flight", "bounce", "roll", "touch")
"""Per-frame labels. FLIGHT: airborne, and no bounce or touch between the previous and the
next frame, so a second difference of positions there measures gravity (and drag) only.
BOUNCE / TOUCH: a ground impact / a player's touch happened between the previous and the
next frame. ROLL: on the ground (rolling or at rest)."""


@dataclass(frozen=True)
class BallParams:
    """The ball, the air and the grass. ``drag=False`` switches air drag off (closed-form tests)."""

    mass: float = 0.43
    radius: float = 0.11
    drag_coefficient: float = 0.25
    air_density: float = 1.2
    gravity: float = 9.81
    restitution: float = 0.7
    bounce_friction: float = 0.35
    rolling_friction: float = 0.06
    rest_speed: float = 0.4
    drag: bool = True

    @cached_property
    def drag_per_metre(self) -> float:
        """k in a = -k |v| v (1/m); 0 without drag."""
        if not self.drag:
            return 0.0
        area = math.pi * self.radius**2
        return self.air_density * self.drag_coefficient * area / (2 * self.mass)


@dataclass(frozen=True)
class Touch:
    """A player's touch at ``time`` (s): the ball leaves with ``velocity`` (m/s, world frame)."""

    time: float
    velocity: tuple[float, float, float]
    kind: str = "kick"  # kick | header | deflection


@dataclass
class Trajectory:
    """States at the integration steps, plus the impulses (bounces and touches)."""

    times: np.ndarray  # (N,)
    positions: np.ndarray  # (N, 3)
    velocities: np.ndarray  # (N, 3)
    rolling: np.ndarray  # (N,) bool: on the ground
    bounces: list[float] = field(default_factory=list)
    touches: list[Touch] = field(default_factory=list)
    params: BallParams = field(default_factory=BallParams)

    def state_at(self, times: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions and velocities (M, 3) at ``times`` by cubic Hermite interpolation between steps.

        A time that falls exactly on an impulse gets the state just after it.
        """
        t = np.asarray(times, dtype=float)
        i = np.clip(np.searchsorted(self.times, t, side="right") - 1, 0, len(self.times) - 2)
        t0, t1 = self.times[i], self.times[i + 1]
        h = np.maximum(t1 - t0, 1e-12)
        s = np.clip((t - t0) / h, 0.0, 1.0)[:, None]
        p0, p1 = self.positions[i], self.positions[i + 1]
        v0, v1 = self.velocities[i] * h[:, None], self.velocities[i + 1] * h[:, None]
        s2, s3 = s * s, s * s * s
        position = (
            (2 * s3 - 3 * s2 + 1) * p0 + (s3 - 2 * s2 + s) * v0 + (-2 * s3 + 3 * s2) * p1 + (s3 - s2) * v1
        )
        velocity = (
            (6 * s2 - 6 * s) * p0 + (3 * s2 - 4 * s + 1) * v0 + (6 * s - 6 * s2) * p1 + (3 * s2 - 2 * s) * v1
        )
        return position, velocity / h[:, None]

    def on_ground(self, times: Sequence[float] | np.ndarray) -> np.ndarray:
        """Whether the ball is rolling (or resting) at ``times``."""
        i = np.clip(np.searchsorted(self.times, np.asarray(times, float), side="right") - 1, 0, None)
        return self.rolling[np.minimum(i, len(self.times) - 1)]

    def labels(self, frame_times: np.ndarray) -> np.ndarray:
        """The segment label (FLIGHT, BOUNCE, ROLL or TOUCH) of each frame; see :data:`SEGMENT_NAMES`."""
        frame_times = np.asarray(frame_times, dtype=float)
        dt = np.diff(frame_times).min() if len(frame_times) > 1 else 1.0
        labels = np.where(self.on_ground(frame_times), ROLL, FLIGHT)
        for kind, when in [(BOUNCE, b) for b in self.bounces] + [(TOUCH, t.time) for t in self.touches]:
            near = np.abs(frame_times - when) < dt * (1 - 1e-9)
            labels[near & (labels != TOUCH)] = kind
        return labels


Vector = tuple[float, float, float]


def _acceleration(v: Vector, params: BallParams) -> Vector:
    """Gravity and drag in flight. Plain floats, not numpy: this runs four times per step."""
    drag = params.drag_per_metre * math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    return (-drag * v[0], -drag * v[1], params.gravity - drag * v[2])


def _rk4(p: Vector, v: Vector, h: float, params: BallParams) -> tuple[Vector, Vector]:
    a1 = _acceleration(v, params)
    v2 = tuple(v[i] + 0.5 * h * a1[i] for i in range(3))
    a2 = _acceleration(v2, params)
    v3 = tuple(v[i] + 0.5 * h * a2[i] for i in range(3))
    a3 = _acceleration(v3, params)
    v4 = tuple(v[i] + h * a3[i] for i in range(3))
    a4 = _acceleration(v4, params)
    p_next = tuple(p[i] + h / 6 * (v[i] + 2 * v2[i] + 2 * v3[i] + v4[i]) for i in range(3))
    v_next = tuple(v[i] + h / 6 * (a1[i] + 2 * a2[i] + 2 * a3[i] + a4[i]) for i in range(3))
    return p_next, v_next


def _time_to_ground(p: Vector, v: Vector, h: float, params: BallParams) -> float:
    """Time within a step of length ``h`` when the ball's centre reaches z = -radius."""
    gap = -params.radius - p[2]  # >= 0: distance still to fall
    a = _acceleration(v, params)[2]
    if abs(a) < 1e-12:
        tau = gap / v[2] if v[2] > 0 else h
    else:
        tau = (-v[2] + math.sqrt(max(v[2] ** 2 + 2 * a * gap, 0.0))) / a
    for _ in range(2):  # Newton refinement on the real (dragged) path
        p_tau, v_tau = _rk4(p, v, tau, params)
        if abs(v_tau[2]) > 1e-9:
            tau -= (p_tau[2] + params.radius) / v_tau[2]
    return min(max(tau, 0.0), h)


def _roll(p: Vector, v: Vector, h: float, params: BallParams) -> tuple[Vector, Vector]:
    """Rolling for ``h`` seconds, in closed form: the speed s obeys ds/dt = -(mu g + k s^2) along a
    fixed direction, so s(t) = c tan(atan(s0 / c) - w t) with c = sqrt(mu g / k), w = sqrt(mu g k)
    (s0 - mu g t without drag), until it stops."""
    speed = math.hypot(v[0], v[1])
    if speed == 0.0:
        return p, v
    friction, k = params.rolling_friction * params.gravity, params.drag_per_metre
    if k == 0.0:
        tau = min(h, speed / friction)
        remaining, distance = speed - friction * tau, speed * tau - friction * tau**2 / 2
    else:
        c, w = math.sqrt(friction / k), math.sqrt(friction * k)
        angle = math.atan(speed / c)
        tau = min(h, angle / w)
        remaining = c * math.tan(angle - w * tau)
        distance = math.log(math.cos(angle - w * tau) / math.cos(angle)) / k
    if tau < h:  # stopped within the step
        remaining = 0.0
    ux, uy = v[0] / speed, v[1] / speed
    return (p[0] + ux * distance, p[1] + uy * distance, -params.radius), (ux * remaining, uy * remaining, 0.0)


def _bounce(v: Vector, params: BallParams) -> tuple[Vector, bool]:
    """Velocity after a ground impact, and whether the ball now rolls."""
    e = params.restitution
    speed = math.hypot(v[0], v[1])
    loss = min(params.bounce_friction * (1 + e) * abs(v[2]), 0.4 * speed)
    keep = (speed - loss) / speed if speed > 0 else 0.0
    rebound = -e * v[2]
    rolls = abs(rebound) < params.rest_speed
    return (v[0] * keep, v[1] * keep, 0.0 if rolls else rebound), rolls


def simulate(
    position: Sequence[float],
    velocity: Sequence[float],
    duration: float,
    params: BallParams | None = None,
    touches: Sequence[Touch] = (),
    dt: float = 0.01,
) -> Trajectory:
    """Integrate the ball from ``position``/``velocity`` at time 0 for ``duration`` seconds.

    A start at z = -radius with no vertical speed starts rolling. ``touches`` are applied at
    their times (a touch on the ground that does not lift the ball keeps it rolling).
    """
    params = params or BallParams()
    radius = params.radius
    p: Vector = tuple(float(c) for c in position)
    v: Vector = tuple(float(c) for c in velocity)
    rolling = p[2] >= -radius - 1e-9 and v[2] >= -1e-9
    if rolling:
        p, v = (p[0], p[1], -radius), (v[0], v[1], 0.0)
    pending = sorted(touches, key=lambda touch: touch.time)
    t = 0.0
    times, positions, velocities, on_ground = [t], [p], [v], [rolling]
    bounces: list[float] = []
    applied: list[Touch] = []

    def record() -> None:
        times.append(t)
        positions.append(p)
        velocities.append(v)
        on_ground.append(rolling)

    while t < duration - 1e-12:
        h = min(dt, duration - t)
        if pending and pending[0].time <= t + h:
            h = max(pending[0].time - t, 0.0)
        if rolling:
            p, v = _roll(p, v, h, params)
            t += h
        else:
            p_next, v_next = _rk4(p, v, h, params)
            if p_next[2] > -radius:  # would end below the ground: cut the step at the contact
                tau = _time_to_ground(p, v, h, params)
                p, v = _rk4(p, v, tau, params)
                t += tau
                p = (p[0], p[1], -radius)
                record()
                v, rolling = _bounce(v, params)
                bounces.append(t)
            else:
                p, v = p_next, v_next
                t += h
        if pending and pending[0].time <= t + 1e-12:
            touch = pending.pop(0)
            record()  # the state just before the touch, then the one after it at the same time
            v = tuple(float(c) for c in touch.velocity)
            rolling = rolling and v[2] >= 0
            if rolling:
                v = (v[0], v[1], 0.0)
            applied.append(touch)
        record()
    return Trajectory(
        times=np.asarray(times),
        positions=np.asarray(positions),
        velocities=np.asarray(velocities),
        rolling=np.asarray(on_ground),
        bounces=bounces,
        touches=applied,
        params=params,
    )
