"""The live curves: the training loss every few steps and the validation points, against the step,
with the best one marked; redrawn in the notebook at every checkpoint, saved as curves.png.

An epoch can last many minutes (an HRNet epoch on a T4 is ~18), so one point per epoch shows little:
the training loss is averaged over every ``logging.curve_every_steps`` batches. Those points are kept
in ``loss_steps.csv`` beside metrics.csv, written with each checkpoint and cut back to the checkpoint
a resumed run starts from, so the curve spans sessions and matches the weights.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from colab_utils.engine.callbacks.base import BatchEnd, Callback, TrainerView
from colab_utils.engine.callbacks.history import History
from colab_utils.files import write_atomically

LOG_SCALE_RATIO = 30.0  # a loss whose largest and smallest values differ more is drawn on a log scale
POINTS_PER_EPOCH = 5  # at least this many training-loss points per epoch, whatever curve_every_steps says


def in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class StepLosses:
    """``loss_steps.csv``: (step, mean training loss over the batches up to it)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.points: list[tuple[int, float]] = []

    def load(self, up_to_step: int) -> None:
        self.points = []
        if self.path.exists():
            with open(self.path, newline="") as f:
                rows = [(int(r["step"]), float(r["train_loss"])) for r in csv.DictReader(f)]
            self.points = [(step, loss) for step, loss in rows if step <= up_to_step]

    def write(self) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["step", "train_loss"])
        writer.writerows(self.points)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, buffer.getvalue())


def best_point(rows: list[dict[str, Any]], monitor: str, mode: str) -> tuple[int, float] | None:
    """(step, value) of the best monitored value; of several equal ones the latest, as best.pth keeps."""
    points = [(r["step"], r[monitor]) for r in rows if isinstance(r.get(monitor), int | float)]
    points = [(step, value) for step, value in points if math.isfinite(value)]
    if not points:
        return None
    sign = 1 if mode == "min" else -1
    return min(reversed(points), key=lambda p: sign * p[1])


def wants_log_scale(values: list[float]) -> bool:
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    return len(positive) > 1 and max(positive) / min(positive) > LOG_SCALE_RATIO


def curves_figure(
    losses: list[tuple[int, float]], rows: list[dict[str, Any]], monitor: str, mode: str
) -> Any:
    """The figure: a loss panel (training loss by step, validation loss points) and, for a monitored
    metric that is not a loss, its own panel; the best monitored value is marked with a star."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    panels = ["loss"] + ([monitor] if monitor not in ("val_loss", "train_loss") else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.4), squeeze=False)
    best = best_point(rows, monitor, mode)
    best_panel = "loss" if monitor in ("val_loss", "train_loss") else monitor
    for ax, panel in zip(axes[0], panels, strict=True):
        plotted: list[float] = []
        if panel == "loss":
            train = losses or [(r["step"], r["train_loss"]) for r in rows if "train_loss" in r]
            if train:
                ax.plot(*zip(*train, strict=True), linewidth=1.2, label="train_loss")
                plotted += [v for _, v in train]
            names = ["val_loss"]
        else:
            names = [panel]
        for name in names:
            points = [(r["step"], r[name]) for r in rows if name in r]
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", markersize=4, label=name)
                plotted += [v for _, v in points]
        if best is not None and panel == best_panel:
            ax.plot(*best, marker="*", markersize=14, color="gold", markeredgecolor="black", linestyle="")
            ax.annotate(
                f"best {best[1]:.4g}",
                best,
                textcoords="offset points",
                xytext=(-8, 8),
                ha="right",
                fontsize=8,
            )
        if wants_log_scale(plotted):
            ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("step")
        ax.set_title(panel)
        ax.grid(alpha=0.3)
        if plotted:
            ax.legend()
    fig.tight_layout()
    return fig


class LiveCurves(Callback):
    """Collects the training loss every few steps; at every checkpoint saves it and redraws the curves
    from it and ``history`` (metrics.csv's rows, written before the epoch's checkpoint)."""

    def __init__(self, run_dir: Path, monitor: str, mode: str, history: History, every_steps: int) -> None:
        self.path = Path(run_dir) / "curves.png"
        self.losses = StepLosses(Path(run_dir) / "loss_steps.csv")
        self.monitor, self.mode = monitor, mode
        self.history = history
        self.every_steps = every_steps
        self.every = every_steps
        self.pending: list[float] = []
        self.handle = None

    def on_train_start(self, trainer: TrainerView) -> None:
        self.every = max(1, min(self.every_steps, trainer.batches_per_epoch // POINTS_PER_EPOCH))
        self.losses.load(up_to_step=trainer.progress.global_step)
        self.pending = []

    def on_batch_end(self, trainer: TrainerView, batch: BatchEnd) -> None:
        self.pending.append(batch.loss)
        if trainer.progress.global_step % self.every == 0:
            self.losses.points.append((trainer.progress.global_step, sum(self.pending) / len(self.pending)))
            self.pending = []

    def on_checkpoint_written(self, trainer: TrainerView, path: Path, reason: str) -> None:
        trainer.drive.write("loss_steps.csv", self.losses.write)
        trainer.drive.write("curves.png", self.update)

    def update(self) -> None:
        if not (self.losses.points or self.history.rows):
            return
        import matplotlib

        if not in_notebook():
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig = curves_figure(self.losses.points, self.history.rows, self.monitor, self.mode)
        fig.savefig(self.path, dpi=90)
        if in_notebook():
            from IPython.display import display

            if self.handle is None:
                self.handle = display(fig, display_id=True)
            else:
                self.handle.update(fig)
        plt.close(fig)
