"""The task contract: the one engine module a model package imports.

A model differs from another only in its package, its config YAML and its notebook. The
engine asks the model's :class:`Task` for its network (a :class:`TrainModel`), its datasets
(:class:`SampleDataset`), the order of its batches (:class:`BatchPlan`), its metrics and how to
evaluate and describe itself; everything else (precision, resume, checkpoints, logging,
export) is the engine's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from argus.metrics import Metric
from omegaconf import DictConfig, OmegaConf

from colab_utils.engine.model import TrainModel
from colab_utils.engine.sampling import BatchPlan, SampleDataset, ShuffledBatches

RUNTIME_MODEL_SETTINGS = ("grad_checkpointing",)
"""``model.*`` settings that leave the weights' shapes alone, so an out-of-memory rung may change them."""

__all__ = [
    "BatchPlan",
    "EvalReport",
    "SampleDataset",
    "ShuffledBatches",
    "StartingWeights",
    "Task",
    "TrainModel",
]


@dataclass
class StartingWeights:
    """Weights read for a new run (``model.init_from``), and what they say they are."""

    state_dict: dict[str, torch.Tensor]
    where: str  # for the report line: the file, or the Hub repository and file
    model: str | None = None  # the library model they were trained as (None: published weights)
    signature: dict[str, Any] | None = None  # the config keys that shape the network, when known


def differences(
    old: Any, new: Any, prefix: str = "model", labels: tuple[str, str] = ("checkpoint", "config")
) -> list[str]:
    """One line per key whose value differs between two model signatures."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines = []
        for key in sorted(set(old) | set(new)):
            lines += differences(old.get(key), new.get(key), f"{prefix}.{key}", labels)
        return lines
    return [] if old == new else [f"{prefix}: {labels[0]} {old!r}, {labels[1]} {new!r}"]


@dataclass
class EvalReport:
    """What the notebook's evaluate step shows: a metrics table and, optionally, a picture."""

    metrics: dict[str, float]
    figure: Any = None  # a matplotlib Figure
    details: dict[str, Any] = field(default_factory=dict)

    def table(self) -> str:
        width = max((len(k) for k in self.metrics), default=0)
        return "\n".join(f"{k:<{width}}  {v:.4f}" for k, v in self.metrics.items())


class Task:
    """Base class of every model's task; subclass it in ``<model package>/task.py``."""

    name: str = ""
    model_class: type[TrainModel] = TrainModel
    # names (prefixes) of the tensors rebuilt for a run's own classes or identities: starting weights
    # (model.init_from) whose head has another shape load the rest and leave the head fresh
    head: tuple[str, ...] = ()
    imagenet_backbone = False  # a backbone with ImageNet weights, which model.init_from=imagenet asks for

    def in_head(self, tensor_name: str) -> bool:
        return tensor_name.startswith(self.head) if self.head else False

    def prepare_data(self, cfg: DictConfig) -> str:
        """Download or generate the data, verify it, and return a one-paragraph summary."""
        return "no data to prepare"

    def model_params(self, cfg: DictConfig) -> dict[str, Any]:
        """argus parameters for ``nn_module`` and ``loss`` (plain, picklable values)."""
        raise NotImplementedError

    def build_model(self, cfg: DictConfig, device: torch.device) -> TrainModel:
        optimizer = OmegaConf.to_container(cfg.train.optimizer, resolve=True)
        name = optimizer.pop("name")
        params = {**self.model_params(cfg), "optimizer": (name, optimizer), "device": str(device)}
        return self.model_class(params)

    def datasets(self, cfg: DictConfig) -> tuple[SampleDataset, SampleDataset | None]:
        """(train, validation) datasets; validation may be None."""
        raise NotImplementedError

    def collate_fn(self) -> Callable | None:
        """How samples become a batch (None: torch's default collation)."""
        return None

    def batch_plan(self, cfg: DictConfig, dataset: SampleDataset) -> BatchPlan:
        """The order of training batches; override for P x K batches and the like."""
        return ShuffledBatches(len(dataset), cfg.train.batch_size, seed=cfg.seed)

    def metrics(self, cfg: DictConfig) -> list[Metric]:
        """Validation metrics (argus Metric objects); the validation loss is always added."""
        return []

    def model_signature(self, cfg: DictConfig) -> dict[str, Any]:
        """The part of the config that must match for a checkpoint's weights to fit the network.

        Where the weights started (``model.init_from``) is no part of it, since a resumed run ignores
        it; nor are the settings an out-of-memory rung may change (``RUNTIME_MODEL_SETTINGS``)."""
        model = OmegaConf.to_container(cfg.model, resolve=True)
        left_out = ("init_from", *RUNTIME_MODEL_SETTINGS)
        return {key: value for key, value in model.items() if key not in left_out}

    def published_weights(self, cfg: DictConfig, source: str) -> StartingWeights | None:
        """Weights of the model's family published elsewhere that ``source`` names (``model.init_from``),
        as this network's state dict; None when ``source`` is none of them (it is then read as a file)."""
        return None

    def prepare_split(self, cfg: DictConfig, split: str) -> str:
        """Download or generate, extract and verify one split training does not read (the test split,
        scored once at the end), and return its summary; only tasks with a ``data.test_split``."""
        raise NotImplementedError(f"{self.name} prepares no split besides the ones it trains with")

    def split_dataset(self, cfg: DictConfig, split: str) -> SampleDataset | None:
        """A prepared split read as the validation set is (no augmentation); None when none of it is
        labelled, so there is nothing to score."""
        raise NotImplementedError(f"{self.name} reads no split besides the ones it trains with")

    def evaluate(self, cfg: DictConfig, model: TrainModel, loader: Any) -> EvalReport:
        """Metrics on the validation set; tasks add their own picture and official metrics."""
        return EvalReport(metrics=model.validate(loader, metrics=self.metrics(cfg)))

    def export_meta(self, cfg: DictConfig) -> dict[str, Any]:
        """What inference needs besides the weights (input size, keypoint names, classes...)."""
        return {}
