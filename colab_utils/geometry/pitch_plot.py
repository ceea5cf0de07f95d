"""The pitch seen from above in metres, under the pictures of tracks, forecasts and graphs."""

from __future__ import annotations

from typing import Any

import numpy as np

from colab_utils.geometry import pitch


def draw_markings(ax: Any) -> None:
    """The markings on the ground (symmetric, so the same in SkillCorner's y-up frame)."""
    for name in pitch.CLASS_NAMES:
        points = pitch.sample_marking(name, 0.5)
        if np.all(points[:, 2] == 0):
            ax.plot(points[:, 0], points[:, 1], color="#9bbf9b", linewidth=0.8, zorder=0)


def draw_pitch(ax: Any) -> None:
    """The ground markings on an axis framed to the pitch and its surrounds, to scale, without ticks."""
    draw_markings(ax)
    ax.set_xlim(-pitch.HALF_L - 3, pitch.HALF_L + 3)
    ax.set_ylim(-pitch.HALF_W - 3, pitch.HALF_W + 3)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
