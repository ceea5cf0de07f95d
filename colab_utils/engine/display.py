"""What the user watches while training: a progress bar per epoch and a live curve."""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from colab_utils.engine.history import History


class EpochBar:
    """A tqdm bar over the batches of one epoch, with rate, ETA, running loss and LR."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: tqdm | None = None

    def start(self, epoch: int, epochs: int, total: int, done: int) -> None:
        if self.enabled:
            self.bar = tqdm(total=total, initial=done, desc=f"epoch {epoch + 1}/{epochs}", unit="batch")

    def update(self, loss: float, lr: float) -> None:
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4g}", lr=f"{lr:.2e}", refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class LiveCurves:
    """Loss and monitored-metric curves, redrawn in place in a notebook and saved as PNG."""

    def __init__(self, path: Path, monitor: str, enabled: bool) -> None:
        self.path = Path(path)
        self.monitor = monitor
        self.enabled = enabled
        self.handle = None

    def update(self, history: History) -> None:
        if not self.enabled or not history.rows:
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
