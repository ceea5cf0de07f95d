"""Footballers drawn with OpenCV: team kits, shirt numbers, builds, poses, views and cameras.

What makes broadcast re-identification hard is kept: the players of a team wear the same kit,
so they differ only by their number (large on the back, small on the front, hidden from the
side), skin, hair, boots, build and what some players add (an undershirt's long sleeves,
tights, a headband, socks rolled down); one person seen from another camera changes pose,
side, size, blur and colour balance. A figure is drawn on a 160 x 80 canvas (grass, mowing stripes,
now and then a pitch line or a passing player) and resized to the crop's size, as small as a
distant player's box in a broadcast frame. Colours are RGB.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np

CANVAS_H, CANVAS_W = 160, 80
Colour = tuple[int, int, int]

PALETTE: dict[str, Colour] = {
    "red": (200, 30, 35),
    "blue": (30, 60, 190),
    "sky": (110, 170, 230),
    "white": (235, 235, 235),
    "black": (25, 25, 28),
    "yellow": (240, 210, 40),
    "orange": (240, 120, 30),
    "green": (20, 110, 60),
    "claret": (120, 25, 50),
    "navy": (20, 30, 80),
    "purple": (110, 50, 150),
    "grey": (130, 130, 135),
    "pink": (235, 120, 170),
}
SKIN: tuple[Colour, ...] = ((240, 200, 170), (215, 170, 130), (180, 130, 95), (140, 95, 65), (95, 65, 45))
HAIR: tuple[Colour, ...] = (
    (20, 15, 10),
    (70, 45, 25),
    (130, 90, 50),
    (225, 195, 120),  # blond
    (170, 70, 30),  # ginger
    (235, 235, 225),  # bleached
    (110, 110, 110),
)
HAIR_STYLES = ("short", "long", "shaved", "curly", "afro", "bun")
BOOTS: tuple[Colour, ...] = (
    (20, 20, 20),
    (240, 240, 240),
    (240, 80, 20),
    (40, 200, 220),
    (230, 220, 40),
    (230, 40, 140),
)
EXTRAS: tuple[Colour, ...] = ((20, 20, 20), (235, 235, 235), (20, 30, 80), (130, 130, 135))
PATTERNS = ("plain", "stripes", "hoops", "halves", "sash")
FACINGS = ("front", "back", "left", "right")


@dataclass(frozen=True)
class Kit:
    """What every player of a team wears."""

    shirt: Colour
    second: Colour  # the pattern's other colour
    pattern: str
    sleeves: Colour
    shorts: Colour
    socks: Colour
    number: Colour


@dataclass(frozen=True)
class Person:
    """One person of a game: a kit and what tells them apart from their teammates."""

    kit: Kit
    number: int | None  # None: no shirt number (referees)
    skin: Colour
    hair: Colour
    hair_style: str
    boots: Colour
    build: float  # shoulder width factor
    legs: float  # leg length factor
    undershirt: Colour | None  # long sleeves worn under the shirt
    tights: Colour | None  # showing below the shorts
    headband: Colour | None
    socks_down: bool  # socks rolled down to the ankle


@dataclass(frozen=True)
class View:
    """How one camera sees a person in one frame."""

    facing: str
    stride: float  # -1..1: leg and arm swing
    lean: float  # pixels the head is ahead of the feet on the canvas
    height_px: int  # height of the crop
    aspect: float  # crop width / height
    shift: float  # the figure's horizontal offset in the crop, canvas pixels
    gain: float
    tint: tuple[float, float, float]
    blur: float  # Gaussian sigma at crop scale
    noise: float
    grass: Colour
    stripe_phase: float
    line: bool
    passer: Colour | None  # another player's kit crossing the box edge


def _colour(rng: np.random.Generator, names: list[str]) -> tuple[str, Colour]:
    name = names[int(rng.integers(len(names)))]
    return name, PALETTE[name]


def random_kit(rng: np.random.Generator, avoid: set[str] = frozenset()) -> tuple[str, Kit]:
    """A team kit whose shirt colour is none of ``avoid``; returns (shirt colour name, kit)."""
    names = [n for n in PALETTE if n not in avoid]
    shirt_name, shirt = _colour(rng, names)
    _, second = _colour(rng, [n for n in PALETTE if n != shirt_name])
    pattern = PATTERNS[int(rng.choice(len(PATTERNS), p=[0.45, 0.2, 0.15, 0.1, 0.1]))]
    sleeves = second if rng.random() < 0.3 else shirt
    _, shorts = _colour(rng, ["white", "black", "navy", shirt_name, shirt_name])
    _, socks = _colour(rng, ["white", "black", shirt_name, shirt_name])
    brightness = sum(shirt) / 3
    number = PALETTE["black"] if brightness > 150 else PALETTE["white"]
    return shirt_name, Kit(shirt, second, pattern, sleeves, shorts, socks, number)


def _pick(rng: np.random.Generator, options: tuple[Colour, ...]) -> Colour:
    return options[int(rng.integers(len(options)))]


def _maybe(rng: np.random.Generator, options: tuple[Colour, ...], p: float) -> Colour | None:
    """One of ``options`` with probability ``p``, else None."""
    return _pick(rng, options) if rng.random() < p else None


def random_person(rng: np.random.Generator, kit: Kit, number: int | None) -> Person:
    """Someone in ``kit``; what tells teammates apart is drawn here (the accessories players do wear)."""
    return Person(
        kit=kit,
        number=number,
        skin=_pick(rng, SKIN),
        hair=_pick(rng, HAIR),
        hair_style=HAIR_STYLES[int(rng.integers(len(HAIR_STYLES)))],
        boots=_pick(rng, BOOTS),
        build=float(rng.uniform(0.75, 1.25)),
        legs=float(rng.uniform(0.88, 1.12)),
        undershirt=_maybe(rng, EXTRAS, 0.3),
        tights=_maybe(rng, EXTRAS, 0.25),
        headband=_maybe(rng, EXTRAS, 0.15),
        socks_down=bool(rng.random() < 0.3),
    )


def random_view(rng: np.random.Generator, passers: list[Colour]) -> View:
    """A camera's view of someone: mostly distant and small, sometimes a close replay."""
    grass = np.array([55, 125, 50]) * rng.uniform(0.8, 1.15) + rng.normal(0, 5, 3)
    height = int(np.clip(rng.lognormal(np.log(75), 0.35), 32, 220))
    return View(
        facing=FACINGS[int(rng.integers(len(FACINGS)))],
        stride=float(rng.uniform(-1, 1)),
        lean=float(rng.normal(0, 3)),
        height_px=height,
        aspect=float(rng.uniform(0.38, 0.55)),
        shift=float(rng.normal(0, 3)),
        gain=float(rng.uniform(0.8, 1.2)),
        tint=tuple(float(t) for t in rng.uniform(0.93, 1.07, 3)),
        blur=float(rng.uniform(0, 0.9)) if rng.random() < 0.5 else 0.0,
        noise=float(rng.uniform(0, 6)),
        grass=tuple(int(c) for c in np.clip(grass, 0, 255)),
        stripe_phase=float(rng.uniform(0, 2 * np.pi)),
        line=bool(rng.random() < 0.25),
        passer=passers[int(rng.integers(len(passers)))] if passers and rng.random() < 0.3 else None,
    )


def _background(view: View) -> np.ndarray:
    rows = np.arange(CANVAS_H)[:, None, None]
    stripes = 1 + 0.08 * np.sign(np.sin(rows / 18 + view.stripe_phase))
    grass = np.broadcast_to(np.array(view.grass, float) * stripes, (CANVAS_H, CANVAS_W, 3))
    canvas = np.clip(grass, 0, 255).astype(np.uint8)
    if view.line:
        y = int(CANVAS_H * 0.5 + 40 * np.sin(view.stripe_phase))
        cv2.line(canvas, (0, y), (CANVAS_W, y + int(20 * np.cos(view.stripe_phase))), (225, 225, 225), 3)
    if view.passer is not None:
        side = 0 if view.stripe_phase < np.pi else CANVAS_W - 14
        cv2.rectangle(canvas, (side, 40), (side + 14, 95), view.passer, -1)
    return canvas


def _limb(canvas: np.ndarray, points: list[tuple[float, float]], colours: list[Colour], width: int) -> None:
    for (a, b), colour in zip(itertools.pairwise(points), colours, strict=True):
        cv2.line(canvas, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), colour, width, cv2.LINE_AA)


def _arm(canvas: np.ndarray, x: float, y: float, sign: int, angle: float, colours: list[Colour]) -> None:
    """Upper arm (sleeve) and forearm (sleeve or skin) from the shoulder at (x, y), swung by ``angle``."""
    elbow = (x + np.sin(angle) * 22 + sign * 3, y + np.cos(angle) * 22)
    hand = (elbow[0] + np.sin(angle * 1.4) * 20, elbow[1] + 20)
    _limb(canvas, [(x, y + 2), elbow, hand], colours, 6)


def _torso_mask(cx: float, top: float, bottom: float, shoulder: float, waist: float) -> np.ndarray:
    mask = np.zeros((CANVAS_H, CANVAS_W), np.uint8)
    corners = [(cx - shoulder, top), (cx + shoulder, top), (cx + waist, bottom), (cx - waist, bottom)]
    cv2.fillPoly(mask, [np.array(corners, np.int32)], 1)
    return mask.astype(bool)


def _shirt(canvas: np.ndarray, mask: np.ndarray, kit: Kit, cx: float, top: float, facing: str) -> None:
    ys, xs = np.mgrid[:CANVAS_H, :CANVAS_W]
    second = np.zeros_like(mask)
    if kit.pattern == "stripes":
        second = ((xs - cx) // 5) % 2 == 0
    elif kit.pattern == "hoops":
        second = ((ys - top) // 7) % 2 == 1
    elif kit.pattern == "halves":
        second = (xs < cx) if facing != "back" else (xs >= cx)
    elif kit.pattern == "sash":
        second = np.abs((xs - cx) + (ys - top - 24) * (1 if facing != "back" else -1)) < 5
    canvas[mask] = kit.shirt
    canvas[mask & second] = kit.second


def _number(canvas: np.ndarray, person: Person, cx: float, top: float, facing: str) -> None:
    if person.number is None or facing in ("left", "right"):
        return
    text = str(person.number)
    scale, thickness = (1.0, 3) if facing == "back" else (0.38, 1)
    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x = cx - w / 2 if facing == "back" else cx + 3
    y = top + (14 + h if facing == "back" else 6 + h)
    cv2.putText(
        canvas,
        text,
        (int(x), int(y)),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        person.kit.number,
        thickness,
        cv2.LINE_AA,
    )


def _head(canvas: np.ndarray, person: Person, cx: float, cy: float, facing: str) -> None:
    cv2.circle(canvas, (int(cx), int(cy)), 8, person.skin, -1, cv2.LINE_AA)
    hair, style = person.hair, person.hair_style
    if style == "shaved":
        cv2.ellipse(canvas, (int(cx), int(cy) - 2), (8, 7), 0, 180, 360, hair, 1, cv2.LINE_AA)
        return
    back = facing == "back"
    cv2.ellipse(canvas, (int(cx), int(cy) - 1), (9, 8), 0, 180, 360, hair, -1, cv2.LINE_AA)
    if back:
        cv2.ellipse(canvas, (int(cx), int(cy)), (8, 7), 0, 0, 180, hair, -1, cv2.LINE_AA)
    if style == "long":
        cv2.rectangle(
            canvas, (int(cx) - 9, int(cy) - 2), (int(cx) + 9, int(cy) + 12 if back else int(cy) + 6), hair, -1
        )
        if not back:
            cv2.circle(canvas, (int(cx), int(cy) + 1), 6, person.skin, -1, cv2.LINE_AA)
    elif style == "curly":
        for dx in (-8, -4, 0, 4, 8):
            cv2.circle(canvas, (int(cx) + dx, int(cy) - 7), 4, hair, -1, cv2.LINE_AA)
    elif style == "afro":
        cv2.circle(canvas, (int(cx), int(cy) - 5), 13, hair, -1, cv2.LINE_AA)
        if not back:
            cv2.circle(canvas, (int(cx), int(cy) + 2), 7, person.skin, -1, cv2.LINE_AA)
    elif style == "bun":
        cv2.circle(canvas, (int(cx), int(cy) - 11), 5, hair, -1, cv2.LINE_AA)
    if person.headband is not None:
        cv2.line(canvas, (int(cx) - 9, int(cy) - 4), (int(cx) + 9, int(cy) - 4), person.headband, 3)


def _draw_figure(person: Person, view: View) -> np.ndarray:
    canvas = _background(view)
    side = view.facing in ("left", "right")
    cx = CANVAS_W / 2 + view.shift
    head_y, shoulder_y, waist_y = 16.0, 29.0, 74.0
    hip_y = waist_y + 20
    leg = 52 * person.legs
    shoulder = (9.0 if side else 16.0) * person.build
    waist = (8.0 if side else 12.5) * person.build
    swing = view.stride * 0.5
    kit = person.kit

    arm_colours = [kit.sleeves, person.undershirt or person.skin]
    arm_x = cx + view.lean * 0.6
    back_sign, front_sign = (0, 0) if side else (-1, 1)
    _arm(canvas, arm_x + back_sign * (shoulder - 2), shoulder_y, back_sign, -swing, arm_colours)

    for sign, angle in ((-1, swing), (1, -swing)):
        hx = cx + sign * (0 if side else waist * 0.5)
        knee = (hx + np.sin(angle) * leg * 0.48, hip_y + np.cos(angle) * leg * 0.48)
        ankle = (knee[0] + np.sin(angle * 0.6) * leg * 0.5, knee[1] + leg * 0.5)
        down = 0.8 if person.socks_down else 0.25  # where the sock starts, from knee to ankle
        sock_top = (knee[0] + (ankle[0] - knee[0]) * down, knee[1] + (ankle[1] - knee[1]) * down)
        colours = [person.tights or person.skin, person.skin, kit.socks]
        _limb(canvas, [(hx, hip_y - 4), knee, sock_top, ankle], colours, 8)
        toe = 5 if view.facing == "right" else -5 if view.facing == "left" else 0
        cv2.ellipse(canvas, (int(ankle[0] + toe), int(ankle[1] + 2)), (6, 3), 0, 0, 360, person.boots, -1)

    shorts = np.array(
        [
            (cx - waist - 1, waist_y - 2),
            (cx + waist + 1, waist_y - 2),
            (cx + waist + 3, hip_y + 4),
            (cx - waist - 3, hip_y + 4),
        ],
        np.int32,
    )
    cv2.fillPoly(canvas, [shorts], kit.shorts)
    top = shoulder_y - 1
    body_cx = cx + view.lean * 0.5
    _shirt(canvas, _torso_mask(body_cx, top, waist_y, shoulder, waist), kit, body_cx, top, view.facing)
    _number(canvas, person, body_cx, top, view.facing)

    _arm(canvas, arm_x + front_sign * (shoulder - 2), shoulder_y, front_sign, swing, arm_colours)
    _head(canvas, person, cx + view.lean, head_y, view.facing)
    return canvas


def render_person(person: Person, view: View, rng: np.random.Generator) -> np.ndarray:
    """The crop (H, W, 3) uint8 RGB of ``person`` as ``view`` sees them."""
    canvas = _draw_figure(person, view)
    height = view.height_px
    width = max(12, round(height * view.aspect))
    crop = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32)
    crop = crop * view.gain * np.array(view.tint)
    if view.blur > 0:
        crop = cv2.GaussianBlur(crop, (0, 0), view.blur)
    crop = crop + rng.normal(0, view.noise, crop.shape)
    return np.clip(crop, 0, 255).astype(np.uint8)
