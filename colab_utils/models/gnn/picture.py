"""The evaluate step's picture for gnn: one frame's graph on the pitch, with predicted roles.

Players are dots in their team's colour (the ball a small black dot), the frame's edges
thin grey lines, and each player carries the role the model predicts; a wrong one is
written in red with the metadata's role after a slash. The title gives each team's
predicted formation and the rule's label for the window.
"""

from __future__ import annotations

import numpy as np

from colab_utils.geometry import pitch
from colab_utils.geometry.pitch_plot import draw_markings

TEAM_COLOURS = ("#1f77b4", "#d62728", "#111111")  # home, away, ball


def frame_graph_picture(
    xy: np.ndarray,
    team: np.ndarray,
    edges: np.ndarray,
    predicted_roles: list[str],
    true_roles: list[str],
    title: str = "",
):
    """A matplotlib figure of one frame: ``xy`` (n, 2) metres of its nodes, ``team`` (n,) 0/1/2,
    ``edges`` (2, E) node indices (source, target), roles per node ("" for the ball)."""
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(11, 7.6))
    draw_markings(ax)
    for source, target in edges.T:
        ax.plot(*xy[[source, target]].T, color="#b0b0b0", linewidth=0.6, zorder=1)
    for side, label in ((0, "home"), (1, "away"), (2, "ball")):
        mine = team == side
        size = 30 if side == 2 else 120
        ax.scatter(*xy[mine].T, s=size, color=TEAM_COLOURS[side], label=label, zorder=3, edgecolors="white")
    for (x, y), guess, truth in zip(xy, predicted_roles, true_roles, strict=True):
        if not guess:
            continue
        wrong = bool(truth) and guess != truth
        text = f"{guess}/{truth}" if wrong else guess
        colour = "#c00000" if wrong else "#222222"
        ax.annotate(
            text, (x, y), xytext=(0, 8), textcoords="offset points", ha="center", fontsize=8, color=colour
        )
    half_length, half_width = pitch.HALF_L + 3, pitch.HALF_W + 3
    ax.set_xlim(-half_length, half_length)
    ax.set_ylim(-half_width, half_width)  # SkillCorner's y points to the top touch line
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure
