"""Random football plays as ball trajectories: what the ball does in a few seconds of a match.

A play starts with the ball at rest at the origin; a kick at a random instant sends it along
+x (the clip generator turns and moves the play onto the pitch). Kinds and their launch
speeds and angles follow typical values of the game:

* ``ground_pass``: 5-18 m/s along the grass (rolls);
* ``driven``: shots and driven passes, 18-32 m/s at 3-20 degrees;
* ``long_pass``: 18-28 m/s at 25-45 degrees, bouncing at the end;
* ``lob``: chips and clearances, 10-17 m/s at 45-65 degrees;
* ``cross_header``: a cross met by a head at 1.8-2.6 m on its way down, sent off at 6-14 m/s;
* ``deflected``: a driven ball or pass whose speed and direction a player's touch changes.
"""

from __future__ import annotations

import math

import numpy as np

from colab_utils.models.ball3d.synthetic.physics import BallParams, Touch, Trajectory, simulate

KINDS = ("ground_pass", "driven", "long_pass", "lob", "cross_header", "deflected")
DEFAULT_MIX = {
    "ground_pass": 0.2,
    "driven": 0.2,
    "long_pass": 0.2,
    "lob": 0.1,
    "cross_header": 0.15,
    "deflected": 0.15,
}
HEAD_HEIGHT_M = (1.8, 2.6)


def launch_velocity(
    speed: float, elevation_deg: float, heading_deg: float = 0.0
) -> tuple[float, float, float]:
    """Velocity of a ball kicked at ``speed`` and ``elevation`` above the ground (z is down)."""
    e, h = math.radians(elevation_deg), math.radians(heading_deg)
    return (speed * math.cos(e) * math.cos(h), speed * math.cos(e) * math.sin(h), -speed * math.sin(e))


def _kick(rng: np.random.Generator, kind: str) -> tuple[float, float, float]:
    heading = rng.normal(0.0, 3.0)
    if kind == "ground_pass":
        return launch_velocity(rng.uniform(5, 18), 0.0, heading)
    if kind in ("driven", "deflected"):
        return launch_velocity(rng.uniform(18, 32), rng.uniform(3, 20), heading)
    if kind == "long_pass":
        return launch_velocity(rng.uniform(18, 28), rng.uniform(25, 45), heading)
    if kind == "lob":
        return launch_velocity(rng.uniform(10, 17), rng.uniform(45, 65), heading)
    if kind == "cross_header":
        return launch_velocity(rng.uniform(17, 25), rng.uniform(18, 35), heading)
    raise ValueError(f"unknown play {kind!r}; valid plays: {', '.join(KINDS)}")


def _header_time(trajectory: Trajectory, after: float, head_height: float) -> float | None:
    """First time after ``after`` when the ball comes down through ``head_height`` (centre height)."""
    z = -trajectory.positions[:, 2]
    falling = trajectory.velocities[:, 2] > 0
    crossing = (z[:-1] >= head_height) & (z[1:] < head_height) & falling[1:] & (trajectory.times[1:] > after)
    hits = np.flatnonzero(crossing)
    return float(trajectory.times[hits[0] + 1]) if len(hits) else None


def _redirect(rng: np.random.Generator, velocity: np.ndarray, speed: float, turn_deg: float, lift_deg: float):
    """A velocity of ``speed`` turned by ``turn_deg`` in the horizontal plane and ``lift_deg`` upwards."""
    heading = math.degrees(math.atan2(velocity[1], velocity[0])) + turn_deg
    return launch_velocity(speed, lift_deg, heading)


def random_play(
    rng: np.random.Generator,
    duration: float,
    params: BallParams | None = None,
    mix: dict[str, float] | None = None,
) -> tuple[str, Trajectory]:
    """(kind, trajectory) of a random play lasting ``duration`` seconds, from a ball at rest at the origin."""
    params = params or BallParams()
    mix = mix or DEFAULT_MIX
    names = list(mix)
    probs = np.array([mix[n] for n in names], dtype=float)
    kind = str(rng.choice(names, p=probs / probs.sum()))
    start = (0.0, 0.0, -params.radius)
    kick = Touch(float(rng.uniform(0.0, 0.4)), _kick(rng, kind))
    touches = [kick]
    if kind == "cross_header":
        first = simulate(start, (0.0, 0.0, 0.0), duration, params, touches)
        when = _header_time(first, kick.time, float(rng.uniform(*HEAD_HEIGHT_M)))
        speed, turn, lift = rng.uniform(6, 14), rng.uniform(-120, 120), rng.uniform(-25, 20)
        if when is not None:
            velocity = first.state_at([when])[1][0]
            touches.append(Touch(when, _redirect(rng, velocity, speed, turn, lift), "header"))
    elif kind == "deflected":
        when = kick.time + float(rng.uniform(0.2, 1.2))
        first = simulate(start, (0.0, 0.0, 0.0), duration, params, touches)
        velocity = first.state_at([when])[1][0]
        keep, turn, lift = rng.uniform(0.3, 0.8), rng.uniform(-70, 70), rng.uniform(-10, 30)
        touches.append(
            Touch(
                when,
                _redirect(rng, velocity, keep * float(np.linalg.norm(velocity)), turn, lift),
                "deflection",
            )
        )
    return kind, simulate(start, (0.0, 0.0, 0.0), duration, params, touches)
