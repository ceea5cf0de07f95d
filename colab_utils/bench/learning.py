"""``python -m colab_utils bench <model|all> --learn``: does the recipe learn? Held-out numbers, not a test.

Each model trains a few CPU minutes on synthetic training data (its smoke profile with the
package's ``ModelBench.learning`` overrides) and is scored on held-out synthetic frames with its
own metrics, against the same network untrained: the baseline that learned nothing. The last
weights are scored, not the best ones, so the held-out frames choose nothing.

``--transfer`` asks whether a starting point helps: the network trained on one synthetic mix
(``ModelBench.transfer``'s first settings) is fine-tuned on another, and scored against the same
number of steps from nothing on that other mix.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from omegaconf import DictConfig

from colab_utils import starting_weights
from colab_utils.bench.measure import model_bench, prepare_quietly
from colab_utils.config import load_config
from colab_utils.engine.checkpoint import CheckpointStore
from colab_utils.engine.contract import Task, TrainModel
from colab_utils.engine.precision import Precision
from colab_utils.engine.trainer import fit, make_val_loader
from colab_utils.pipeline import load_trained_model

LEARNING_PROFILE = "smoke"
# held-out scoring only at the end: validation during training would choose nothing but cost minutes,
# and the smoke profile's checkpoint every 4 steps would cost more than the steps
QUIET = (
    "logging.progress=false",
    "logging.live_plot=false",
    "train.val_every_epochs=1000000",
    "checkpoint.every_steps=null",
)


@dataclass(frozen=True)
class Learned:
    """Held-out metrics of one model before and after a few CPU minutes of training."""

    model: str
    settings: tuple[str, ...]
    monitor: str
    steps: int
    train_seconds: float
    untrained: dict[str, float]
    trained: dict[str, float]


def learning_config(model: str, settings: Sequence[str] = (), run_name: str = "learning") -> DictConfig:
    overrides = [*model_bench(model).learning, *QUIET, f"run.name={run_name}", *settings]
    return load_config(model, LEARNING_PROFILE, overrides, verbose=False)


def held_out_metrics(task: Task, cfg: DictConfig, model: TrainModel) -> dict[str, float]:
    """The model's own metrics on the validation split, with no picture and nothing printed."""
    _, validation = task.datasets(cfg)
    with contextlib.redirect_stdout(io.StringIO()):
        report = task.evaluate(cfg, model, make_val_loader(task, validation, cfg))
    plt.close("all")
    return {key: float(value) for key, value in report.metrics.items()}


def untrained_model(task: Task, cfg: DictConfig) -> TrainModel:
    """The network as training would start it (same seed, ``model.init_from`` loaded), in eval mode."""
    torch.manual_seed(int(cfg.seed))
    model = task.build_model(cfg, torch.device("cpu"))
    with contextlib.redirect_stdout(io.StringIO()):
        starting_weights.apply(cfg, task, model.get_nn_module())
    model.configure_training(Precision("fp32", "cpu"), 1, None)
    model.eval()
    return model


def learn(model: str, settings: Sequence[str] = (), run_name: str = "learning") -> Learned:
    """Train ``model``'s learning config in the scratch folders and score it on held-out frames
    before (``untrained``: as the run starts, ``model.init_from`` included) and after.

    Expects ``COLAB_UTILS_DRIVE`` and ``COLAB_UTILS_DATA`` to point at scratch folders.
    """
    cfg = learning_config(model, settings, run_name)
    task = prepare_quietly(cfg)
    untrained = held_out_metrics(task, cfg, untrained_model(task, cfg))
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        result = fit(cfg, task)
    seconds = time.perf_counter() - started
    trained_model, _ = load_trained_model(cfg, torch.device("cpu"))
    return Learned(
        model=model,
        settings=tuple(settings),
        monitor=str(cfg.train.monitor),
        steps=result.global_step,
        train_seconds=seconds,
        untrained=untrained,
        trained=held_out_metrics(task, cfg, trained_model),
    )


@dataclass(frozen=True)
class Transfer:
    """The same steps on the target mix from nothing and from the weights trained on the source mix."""

    model: str
    source: tuple[str, ...]
    target: tuple[str, ...]
    from_nothing: Learned
    fine_tuned: Learned  # its ``untrained``: the source weights on the target's held-out frames


def transfer(model: str, overrides: Sequence[str] = ()) -> Transfer:
    """Train on the source mix, then train on the target mix twice: from nothing, and from those weights
    (``overrides`` apply to all three runs).

    Expects ``COLAB_UTILS_DRIVE`` and ``COLAB_UTILS_DATA`` to point at scratch folders.
    """
    settings = model_bench(model).transfer
    if settings is None:
        raise ValueError(f"{model}'s bench names no second synthetic mix (ModelBench.transfer)")
    source, target = ([*mix, *overrides] for mix in settings)
    start = learning_config(model, source, "learning-source")
    with contextlib.redirect_stdout(io.StringIO()):
        fit(start, prepare_quietly(start))
    store = CheckpointStore(Path(start.run.dir) / "checkpoints")
    weights = (store.best() or store.newest_valid()).path
    return Transfer(
        model=model,
        source=tuple(source),
        target=tuple(target),
        from_nothing=learn(model, target, "learning-target"),
        fine_tuned=learn(model, [*target, f"model.init_from={weights}"], "learning-fine-tuned"),
    )
