"""The evaluate step's picture: queries and their nearest gallery crops, framed green (same person) or red."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

RIGHT, WRONG, QUERY = "#1a9850", "#d73027", "#4d4d4d"


@dataclass(frozen=True)
class RankedQuery:
    """A query crop and its nearest gallery crops (image, distance, same identity), nearest first."""

    image: np.ndarray
    title: str
    matches: Sequence[tuple[np.ndarray, float, bool]]


def _show(ax: plt.Axes, image: np.ndarray, colour: str, label: str) -> None:
    ax.imshow(image)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor(colour)
        spine.set_linewidth(4)
    ax.set_xlabel(label, fontsize=8)


def ranking_picture(queries: Sequence[RankedQuery], title: str = "") -> Figure:
    """One row per query: the query, then its matches left to right, framed by correctness."""
    columns = 1 + max((len(q.matches) for q in queries), default=0)
    figure, axes = plt.subplots(
        len(queries), columns, figsize=(1.4 * columns, 2.6 * len(queries)), squeeze=False
    )
    for row, query in zip(axes, queries, strict=True):
        _show(row[0], query.image, QUERY, query.title)
        for ax, (image, distance, right) in zip(row[1:], query.matches, strict=False):
            _show(ax, image, RIGHT if right else WRONG, f"d={distance:.3f}")
        for ax in row[1 + len(query.matches) :]:
            ax.axis("off")
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    plt.close(figure)
    return figure
