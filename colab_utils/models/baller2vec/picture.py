"""The evaluate step's picture for baller2vec: one forecast on the pitch, and error against horizon."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from colab_utils.geometry.pitch_plot import draw_pitch

SIDE_COLOURS = ("#d62728", "#1f77b4", "#111111")  # attacking +x, attacking -x, ball


def forecast_picture(
    history: np.ndarray,
    truth: np.ndarray,
    forecast: np.ndarray,
    baseline: np.ndarray,
    valid: np.ndarray,
    side: np.ndarray,
    curves: dict[str, Sequence[float]],
    horizons: Sequence[int],
    fps: float,
    title: str = "",
):
    """Left: observed history [H, A, 2], true future, rollout and constant velocity [F, A, 2] on the
    pitch; right: ``curves`` (name -> ADE per horizon) against the forecast time."""
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [1.6, 1]})
    draw_pitch(left)
    for agent in range(history.shape[1]):
        colour = SIDE_COLOURS[int(side[agent])]
        seen = ~np.isnan(history[:, agent, 0])
        left.plot(*history[seen, agent].T, color=colour, linewidth=1.0, alpha=0.45)
        if not valid[:, agent].any():
            continue
        start = history[-1:, agent]
        for track, style, width in ((truth, "-", 1.6), (forecast, "--", 1.6), (baseline, ":", 1.0)):
            path = np.concatenate([start, track[:, agent]])
            left.plot(*path.T, linestyle=style, color=colour, linewidth=width)
        left.scatter(*truth[-1, agent], s=12 if agent < history.shape[1] - 1 else 20, color=colour, zorder=3)
    for label, style in (("observed", "-"), ("truth", "-"), ("baller2vec", "--"), ("constant velocity", ":")):
        left.plot(
            [], [], color="#555555", linestyle=style, label=label, alpha=0.45 if label == "observed" else 1
        )
    left.legend(loc="upper left", fontsize=8, ncol=4, frameon=False, bbox_to_anchor=(0, 1.07))
    seconds = np.asarray(horizons, float) / fps
    for (
        name,
        values,
    ) in curves.items():  # "<forecaster>, <agents>": one colour per agents, one style per forecaster
        style = ":" if name.startswith("constant") else "-"
        colour = SIDE_COLOURS[2] if name.endswith("ball") else "#7b3294"
        right.plot(seconds[: len(values)], values, linestyle=style, color=colour, marker="o", label=name)
    right.set_xlabel("forecast horizon (s)")
    right.set_ylabel("ADE (m)")
    right.grid(alpha=0.3)
    right.legend(fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure
