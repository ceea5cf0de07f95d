"""What a model's package tells the bench beyond its task (``BENCH`` in its ``__init__.py``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from omegaconf import DictConfig

from colab_utils.engine.contract import Task
from colab_utils.engine.sampling import SampleDataset

EpochSize = Callable[[DictConfig, SampleDataset], tuple[int, int]]
BatchMeasure = Callable[[Task, DictConfig, object], float]
ExtraLines = Callable[[Task, DictConfig, object], list[str]]


@dataclass(frozen=True)
class ModelBench:
    """A model's bench needs, all optional.

    ``overrides`` make the config work offline (synthetic data in the real format, no
    pretrained download): the bench measures shapes and rates, not accuracy. ``epoch`` gives
    one epoch of the real data as (training, validation) items, either fixed or from the
    config and the (synthetic) training set; without it the datasets' own lengths count.
    ``validation_flops`` replaces a third of the training FLOPs per validation item when
    validation is not one forward pass (a rollout). ``extra`` prints the model's own
    measurements, one string per line. ``learning`` turns the smoke profile into a config that
    learns something in a few CPU minutes (``bench --learn``); ``transfer`` is a (source, target)
    pair of synthetic mixes for ``bench --learn --transfer``: trained on the first, fine-tuned on
    the second.
    """

    items: str = "items"
    overrides: tuple[str, ...] = ()
    epoch: tuple[int, int] | EpochSize | None = None
    validation_flops: BatchMeasure | None = None
    extra: ExtraLines | None = None
    learning: tuple[str, ...] = ()
    transfer: tuple[tuple[str, ...], tuple[str, ...]] | None = None
