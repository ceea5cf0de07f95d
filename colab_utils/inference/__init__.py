"""Predictors: a trained model, rebuilt from its exported .pth, run on a user's own inputs.

One module per task, ``colab_utils/inference/<task>.py``, registers its
:class:`~colab_utils.inference.base.Predictor` subclass with ``@register_predictor("<task>")``;
:func:`predictor_class` imports that module on first use, so a model's libraries load only
when its weights are used. The shared pieces: :mod:`~colab_utils.inference.base` (the
predictor and the Prediction a user gets, and how to write a task's predictor),
:mod:`~colab_utils.inference.inputs` (images, folders, videos and arrays as frames) and
:mod:`~colab_utils.inference.transfer` (Colab's upload dialog and download for the notebook).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path

from colab_utils.tasks import available_tasks

__all__ = ["available_predictors", "predictor_class", "register_predictor"]

_REGISTRY: dict[str, type] = {}


def register_predictor(task: str) -> Callable[[type], type]:
    def decorate(cls: type) -> type:
        cls.task = task
        _REGISTRY[task] = cls
        return cls

    return decorate


def available_predictors() -> list[str]:
    """Tasks whose predictor ships with the library (imported or not)."""
    modules = {m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])}
    return sorted((modules & set(available_tasks())) | set(_REGISTRY))


def predictor_class(task: str) -> type:
    """The predictor of ``task``; ValueError when the library has none for it."""
    if task not in _REGISTRY and task in available_predictors():
        importlib.import_module(f"colab_utils.inference.{task}")
    if task in _REGISTRY:
        return _REGISTRY[task]
    runs = f"predict() runs {', '.join(available_predictors())}"
    if task in available_tasks():
        raise ValueError(f"predict() cannot run {task} models yet; {runs}.")
    raise ValueError(
        f"The weights are of an unknown task {task!r} ({runs}). If they were exported by a newer "
        "colab_utils, update the library (the notebook's install cell)."
    )
