"""Players, goalkeepers, referees and the ball drawn into a broadcast frame, with their boxes.

A person is drawn upright from where the feet touch the grass to the top of the head, both
projected by the frame's camera, so size and lean follow the perspective: legs with socks
and boots (swinging with the running phase), shorts, a shirt with sleeves, arms, a head
with hair, and a soft shadow on the grass. Teams differ by kit colours, goalkeepers and
referees by their own. The ball is a shaded disc of 22 cm seen at its depth.

The box of each is what an annotator draws: the tight extent of the body (not the shadow)
in whole pixels, clipped to the frame; people far enough out of the frame get none. Far
figures are drawn first so near ones hide them, as on a broadcast, and a hidden figure
keeps its full box, as in SoccerNet's annotations.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from colab_utils.geometry.camera import Camera

BALL_RADIUS_M = 0.11
NEAR_DEPTH_M = 1.0
MIN_BOX_PX = 2  # boxes thinner than this are too small to annotate
MIN_VISIBLE_SHARE = 0.3  # a figure cut by the frame border keeps its box if this much of it is inside
_SUBPIXEL_BITS = 4


@dataclass(frozen=True)
class Kit:
    """BGR colours of one figure."""

    shirt: tuple[float, float, float]
    shorts: tuple[float, float, float]
    socks: tuple[float, float, float]
    skin: tuple[float, float, float]
    hair: tuple[float, float, float]


@dataclass(frozen=True)
class Drawn:
    """One figure in one frame: its box (left, top, width, height; whole pixels) and depth."""

    track_id: int
    box: tuple[int, int, int, int]
    depth: float


# Body parts as polygons in (across, up) units of the figure's height; x < 0 is its left.
_SHORTS = ((-0.13, 0.40), (0.13, 0.40), (0.14, 0.55), (-0.14, 0.55))
_SHIRT = ((-0.14, 0.53), (0.14, 0.53), (0.16, 0.82), (-0.16, 0.82))
_HEAD = (0.0, 0.925, 0.068)  # centre across, centre up, radius


def _leg(side: float, swing: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(skin, sock, boot) polygons of one leg; ``side`` -1 left, +1 right."""
    hip_in, hip_out = side * 0.015, side * 0.12
    foot = side * 0.065 + swing
    leg = np.array([(hip_in, 0.48), (hip_out, 0.48), (foot + side * 0.04, 0.0), (foot - side * 0.035, 0.0)])
    sock = np.array([(foot - side * 0.035, 0.0), (foot + side * 0.04, 0.0)])
    knee = leg[[0, 1]] * 0.55 + leg[[3, 2]] * 0.45
    sock = np.array([*sock, knee[1] * 0.5 + sock[1] * 0.5, knee[0] * 0.5 + sock[0] * 0.5])
    boot = np.array([(foot - side * 0.045, 0.0), (foot + side * 0.06, 0.0), (foot + side * 0.05, 0.035)])
    boot = np.array([*boot, (foot - side * 0.04, 0.035)])
    return leg, sock, boot


def _arm(side: float, swing: float) -> tuple[np.ndarray, np.ndarray]:
    """(skin, sleeve) polygons of one arm."""
    hand = side * 0.2 - swing * 0.6
    arm = np.array(
        [(side * 0.14, 0.81), (side * 0.2, 0.79), (hand + side * 0.03, 0.5), (hand - side * 0.02, 0.5)]
    )
    sleeve = np.array([arm[0], arm[1], arm[1] * 0.6 + arm[2] * 0.4, arm[0] * 0.6 + arm[3] * 0.4])
    return arm, sleeve


def _to_pixels(points: np.ndarray, foot: np.ndarray, up: np.ndarray, across: np.ndarray) -> np.ndarray:
    return foot + points[:, 1:2] * up + points[:, 0:1] * across


def _fill(image: np.ndarray, polygon: np.ndarray, colour: tuple[float, ...]) -> None:
    fixed = np.rint(polygon * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    cv2.fillConvexPoly(image, fixed, [float(c) for c in colour], cv2.LINE_AA, _SUBPIXEL_BITS)


def _shadow(image: np.ndarray, centre: np.ndarray, half_width: float, half_height: float) -> None:
    """Darken an ellipse of grass under the feet (only the pixels around it are touched)."""
    x0, y0 = int(np.floor(centre[0] - half_width)) - 1, int(np.floor(centre[1] - half_height)) - 1
    x1, y1 = int(np.ceil(centre[0] + half_width)) + 2, int(np.ceil(centre[1] + half_height)) + 2
    rows, cols = slice(max(y0, 0), min(y1, image.shape[0])), slice(max(x0, 0), min(x1, image.shape[1]))
    patch = image[rows, cols]
    if patch.size == 0:
        return
    mask = np.zeros(patch.shape[:2], np.uint8)
    local = (round(centre[0]) - cols.start, round(centre[1]) - rows.start)
    axes = (max(1, round(half_width)), max(1, round(half_height)))
    cv2.ellipse(mask, local, axes, 0, 0, 360, 255, -1, cv2.LINE_AA)
    patch[:] = (patch * (1 - 0.3 / 255 * mask[..., None].astype(np.float32))).astype(np.uint8)


def draw_person(
    image: np.ndarray, foot: np.ndarray, head: np.ndarray, kit: Kit, phase: float
) -> tuple[float, float, float, float]:
    """Draw one person standing at pixel ``foot`` whose head top projects to ``head``; its extent.

    Returns (x0, y0, x1, y1) of the drawn body in frame pixels, before any clipping.
    """
    up = head - foot
    height = float(np.hypot(*up))
    across = np.array([-up[1], up[0]])  # as long as the figure is tall, pointing to its right
    swing = 0.07 * np.sin(phase)
    _shadow(image, foot, 0.22 * height, 0.05 * height)
    parts: list[tuple[np.ndarray, tuple[float, ...]]] = []
    for side, leg_swing in ((-1.0, swing), (1.0, -swing)):
        leg, sock, boot = _leg(side, leg_swing)
        parts += [(leg, kit.skin), (sock, kit.socks), (boot, (25.0, 25.0, 25.0))]
    parts.append((np.array(_SHORTS), kit.shorts))
    for side, arm_swing in ((-1.0, swing), (1.0, -swing)):
        arm, sleeve = _arm(side, arm_swing)
        parts += [(arm, kit.skin), (sleeve, kit.shirt)]
    parts.append((np.array(_SHIRT), kit.shirt))
    corners = []
    for polygon, colour in parts:
        pixels = _to_pixels(polygon, foot, up, across)
        _fill(image, pixels, colour)
        corners.append(pixels)
    cx, cy, radius = _HEAD
    centre = _to_pixels(np.array([[cx, cy]]), foot, up, across)[0]
    r = radius * height
    fixed = tuple(int(v) for v in np.rint(centre * (1 << _SUBPIXEL_BITS)))
    size = max(1, round(r * (1 << _SUBPIXEL_BITS)))
    cv2.circle(image, fixed, size, [float(c) for c in kit.skin], -1, cv2.LINE_AA, _SUBPIXEL_BITS)
    hair = (max(1, round(r * (1 << _SUBPIXEL_BITS))), max(1, round(0.6 * r * (1 << _SUBPIXEL_BITS))))
    angle = float(np.degrees(np.arctan2(across[1], across[0])))
    cv2.ellipse(
        image, fixed, hair, angle, 180, 360, [float(c) for c in kit.hair], -1, cv2.LINE_AA, _SUBPIXEL_BITS
    )
    points = np.concatenate([*corners, centre + [[-r, -r], [r, r]]])
    return (
        float(points[:, 0].min()),
        float(points[:, 1].min()),
        float(points[:, 0].max()),
        float(points[:, 1].max()),
    )


def draw_ball(image: np.ndarray, centre: np.ndarray, radius: float, shade: float) -> tuple[float, ...]:
    """A white ball lit from above: a disc with a darker lower half; its extent (x0, y0, x1, y1)."""
    scale = 1 << _SUBPIXEL_BITS
    fixed = tuple(int(v) for v in np.rint(centre * scale))
    size = max(1, round(radius * scale))
    cv2.circle(image, fixed, size, (235.0, 240.0, 240.0), -1, cv2.LINE_AA, _SUBPIXEL_BITS)
    if radius >= 2:
        dark = (235.0 * shade, 240.0 * shade, 240.0 * shade)
        cv2.ellipse(image, fixed, (size, size), 0, 20, 160, dark, -1, cv2.LINE_AA, _SUBPIXEL_BITS)
    return centre[0] - radius, centre[1] - radius, centre[0] + radius, centre[1] + radius


def annotation_box(extent: tuple[float, ...], width: int, height: int) -> tuple[int, int, int, int] | None:
    """The box an annotator draws around ``extent`` in whole pixels, clipped; None if not worth one."""
    x0, y0, x1, y1 = extent
    full = max(x1 - x0, 1e-6) * max(y1 - y0, 1e-6)
    left, top = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    right, bottom = min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1)))
    if right - left < MIN_BOX_PX or bottom - top < MIN_BOX_PX:
        return None
    inside = (min(x1, width) - max(x0, 0)) * (min(y1, height) - max(y0, 0))
    if inside < MIN_VISIBLE_SHARE * full:
        return None
    return left, top, right - left, bottom - top


def project_figure(
    camera: Camera, ground: np.ndarray, top: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Pixels of a figure's bottom and top points (world, z down) and its depth (inf when behind)."""
    uv, depth = camera.project(np.stack([ground, top]))
    if not (depth > NEAR_DEPTH_M).all() or not np.isfinite(uv).all():
        return uv[0], uv[1], float("inf")
    return uv[0], uv[1], float(depth[0])
