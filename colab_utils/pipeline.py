"""The notebook steps around the engine: prepare the data, train, evaluate the best weights.

Each looks the model's task up in the registry; the engine itself knows no model.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from colab_utils import runtime as rt
from colab_utils.config import ConfigError
from colab_utils.engine.checkpoint import CheckpointStore
from colab_utils.engine.contract import EvalReport, Task
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


def evaluate(cfg: DictConfig, split: str | None = None) -> EvalReport | None:
    """Metrics of the best weights, printed as a table (plus a picture): on the validation set, or
    with ``split`` (``"test"``) on a split that never chose the weights, prepared here if needed.

    The validation set chose the best weights, so its numbers flatter them; the test split is the
    honest score, meant to be computed once, at the end. With the settings the run trained with,
    out-of-memory step-downs included. None when ``split`` has no labelled frame to score.
    """
    cfg = with_recorded_stepdown(cfg)
    task = get_task(cfg.task)
    if split is not None:
        return _evaluate_unseen(cfg, task, split)
    model, source = load_trained_model(cfg)
    _, val_set = task.datasets(cfg)
    if val_set is None:
        raise ValueError(f"{cfg.run.model} has no validation set to evaluate on.")
    report = task.evaluate(cfg, model, make_val_loader(task, val_set, cfg))
    print(f"{cfg.run.model}, weights from {source}:")
    _show(report)
    return report


def _evaluate_unseen(cfg: DictConfig, task: Task, split: str) -> EvalReport | None:
    """``split`` scored with the best weights, in the validation set's place in a copy of ``cfg``."""
    data, model_name = cfg.data, cfg.run.model
    test_split = data.get("test_split")
    if not test_split:
        raise ConfigError(
            f"{model_name} has no test split (data.test_split is not set): its data offers no labelled "
            "split apart from the ones it trains and chooses its best weights with. evaluate(cfg) gives "
            "the validation metrics; they chose the weights, so they are somewhat optimistic."
        )
    if data.get("source") == "folder":
        raise ConfigError(
            f"data.source=folder: your folder gives {model_name} a training and a validation split, and "
            f"{split!r} is SoccerNet's (data.source=soccernet). To score frames that chose nothing, put "
            "them in the folder's valid/ and train from the weights you have (model.init_from)."
        )
    if split in (data.train_split, data.val_split):
        used = "trains on" if split == data.train_split else "chooses its best weights with"
        raise ConfigError(
            f"{model_name} {used} the {split!r} split, so scoring it is no test: use split={test_split!r}."
        )
    print(task.prepare_split(cfg, split))
    unseen = OmegaConf.merge(cfg, {"data": {"val_split": split}})
    dataset = task.split_dataset(unseen, split)
    if dataset is None:
        print(f"Nothing to score on {split}: none of its frames has labels (the summary above says why).")
        return None
    model, source = load_trained_model(cfg)
    report = task.evaluate(unseen, model, make_val_loader(task, dataset, unseen))
    report.metrics = {_renamed(key, split): value for key, value in report.metrics.items()}
    print(
        f"{model_name} on the {split} split ({len(dataset)} samples), weights from {source}, chosen on "
        f"{data.val_split!r}: {split} was not used to choose them. Score it once, at the end."
    )
    _show(report)
    return report


def _renamed(metric: str, split: str) -> str:
    return f"{split}_{metric[4:]}" if metric.startswith("val_") else metric


def _show(report: EvalReport) -> None:
    if report.figure is not None:
        import matplotlib.pyplot as plt

        plt.close(report.figure)  # shown once, by the notebook, not also by the inline backend
    print(report.table())
