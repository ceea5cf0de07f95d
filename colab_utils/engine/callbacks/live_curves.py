"""The live curves: loss and the monitored metric per epoch, redrawn in the notebook, saved as curves.png."""

from __future__ import annotations

from pathlib import Path

from colab_utils.engine.callbacks.base import Callback, EpochEnd, TrainerView
from colab_utils.engine.callbacks.history import History


def in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class LiveCurves(Callback):
    """Loss and monitored-metric curves from ``history`` (its rows are written first), redrawn in place."""

    def __init__(self, path: Path, monitor: str, history: History) -> None:
        self.path = Path(path)
        self.monitor = monitor
        self.history = history
        self.handle = None

    def on_epoch_end(self, trainer: TrainerView, epoch: EpochEnd) -> None:
        trainer.drive.write("curves.png", self.update, self.history)

    def update(self, history: History) -> None:
        if not history.rows:
            return
        import matplotlib

        if not in_notebook():
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        panels = ["loss"] + ([self.monitor] if self.monitor not in ("val_loss", "train_loss") else [])
        fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.2), squeeze=False)
        for ax, panel in zip(axes[0], panels, strict=True):
            names = ["train_loss", "val_loss"] if panel == "loss" else [panel]
            for name in names:
                epochs, values = history.column(name)
                if values:
                    ax.plot(epochs, values, marker="o", markersize=3, label=name)
            ax.set_xlabel("epoch")
            ax.set_title(panel)
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        fig.savefig(self.path, dpi=90)
        if in_notebook():
            from IPython.display import display

            if self.handle is None:
                self.handle = display(fig, display_id=True)
            else:
                self.handle.update(fig)
        plt.close(fig)
