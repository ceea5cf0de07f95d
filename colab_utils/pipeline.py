"""The notebook steps around the engine: prepare the data, train, evaluate the best weights.

Each looks the model's task up in the registry; the engine itself knows no model.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from omegaconf import DictConfig

from colab_utils import runtime as rt
from colab_utils.engine.checkpoint import CheckpointStore
from colab_utils.engine.contract import EvalReport
from colab_utils.engine.model import TrainModel
from colab_utils.engine.oom import with_recorded_stepdown
from colab_utils.engine.precision import resolve_precision
from colab_utils.engine.trainer import TrainResult, check_run_folder, fit, make_val_loader
from colab_utils.registry import get_task


def prepare_data(cfg: DictConfig) -> str:
    """Download or generate the model's data on local disk, verify it, print what was found.

    First the run folder is checked: a checkpoint of another model there is reported before
    gigabytes are downloaded for a training that could not start."""
    task = get_task(cfg.task)
    check_run_folder(cfg, task)
    summary = task.prepare_data(cfg)
    print(summary)
    return summary


def train(cfg: DictConfig, runtime: rt.Runtime | None = None) -> TrainResult:
    """Train ``cfg``'s model in its run folder, resuming from the newest valid checkpoint, and
    print what came of it in a few lines (status, epochs, best metric, where the weights are).

    When CUDA runs out of memory, training steps down ``train.oom_ladder`` (see
    :func:`colab_utils.engine.trainer.fit`) and goes on from the newest checkpoint; the result's
    ``config`` holds the settings it finished with.
    """
    result = fit(cfg, get_task(cfg.task), runtime)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, once
        print(result.summary())
    return result


def load_trained_model(cfg: DictConfig, device: torch.device | None = None) -> tuple[TrainModel, str]:
    """The task's model with the run's best weights (or its newest checkpoint's), in eval mode."""
    cfg = with_recorded_stepdown(cfg)
    device = device or (torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu"))
    task = get_task(cfg.task)
    model = task.build_model(cfg, device)
    precision, _ = resolve_precision(cfg.train.amp, device, rt.detect_gpu())
    model.configure_training(precision, 1, None)
    store = CheckpointStore(Path(cfg.run.dir) / "checkpoints")
    found = store.best(map_location=device) or store.newest_valid(map_location=device)
    if found is None:
        raise FileNotFoundError(f"No checkpoint in {store.folder}: run the train step first.")
    model.get_nn_module().load_state_dict(found.payload["model"])
    model.eval()
    return model, found.path.name


def evaluate(cfg: DictConfig) -> EvalReport:
    """Metrics of the best weights on the validation set, printed as a table (plus a picture).

    With the settings the run trained with, out-of-memory step-downs included."""
    cfg = with_recorded_stepdown(cfg)
    task = get_task(cfg.task)
    model, source = load_trained_model(cfg)
    _, val_set = task.datasets(cfg)
    if val_set is None:
        raise ValueError(f"{cfg.run.model} has no validation set to evaluate on.")
    report = task.evaluate(cfg, model, make_val_loader(task, val_set, cfg))
    if report.figure is not None:
        import matplotlib.pyplot as plt

        plt.close(report.figure)  # shown once, by the notebook, not also by the inline backend
    print(f"{cfg.run.model}, weights from {source}:")
    print(report.table())
    return report
