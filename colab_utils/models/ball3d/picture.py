"""The evaluate step's picture for ball3d: height over time, and the trajectory seen from above."""

from __future__ import annotations

import numpy as np

from colab_utils.geometry.pitch_plot import draw_markings

COLOURS = {"truth": "#222222", "model": "#d62728", "baseline": "#1f77b4"}


def trajectory_picture(
    times: np.ndarray,
    tracks: dict[str, np.ndarray],
    camera_position: np.ndarray,
    detected: np.ndarray,
    radius: float = 0.11,
    title: str = "",
):
    """A matplotlib figure: heights (m) over time and a top-down view, of ``tracks`` name -> (T, 3)."""
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1, 1.3]})
    for name, positions in tracks.items():
        height = -positions[:, 2] - radius
        left.plot(times, height, color=COLOURS.get(name), label=name, linewidth=1.6)
    missed = ~detected
    if missed.any():
        left.scatter(
            times[missed], np.zeros(missed.sum()), marker="x", color="#888888", label="detector missed"
        )
    left.set_xlabel("time (s)")
    left.set_ylabel("height of the ball (m)")
    left.legend(loc="upper right", fontsize=8)
    left.grid(alpha=0.3)

    draw_markings(right)
    for name, positions in tracks.items():
        right.plot(positions[:, 0], positions[:, 1], color=COLOURS.get(name), label=name, linewidth=1.6)
        right.scatter(positions[:1, 0], positions[:1, 1], color=COLOURS.get(name), s=12)
    right.scatter([camera_position[0]], [camera_position[1]], marker="^", color="black", s=40, label="camera")
    everything = np.concatenate([*tracks.values(), camera_position[None]])
    low, high = everything[:, :2].min(axis=0) - 5, everything[:, :2].max(axis=0) + 5
    right.set_xlim(low[0], high[0])
    right.set_ylim(high[1], low[1])  # y grows towards the bottom touch line, as in the broadcast view
    right.set_aspect("equal")
    right.set_xlabel("x (m)")
    right.set_ylabel("y (m)")
    right.legend(loc="upper right", fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    return figure
