"""The model registry: a model is the package that holds it.

A model named ``m`` is the package ``colab_utils.models.m``; a model kept outside the library
is any importable package, named in its config by its dotted path (``task: my_lab.offside``).
The package's ``__init__.py`` declares in plain constants what the suite needs, so reading it
imports no model library:

* ``TASK = "task:ClassName"``: its :class:`~colab_utils.engine.contract.Task`, relative to the package;
* ``PREDICTOR = "predictor:ClassName"``: what ``predict()`` runs on its exported weights (or None);
* ``EXTRAS = "calibration"``: the ``setup.py`` extras family it needs (the notebooks install it);
* ``TRAIN_ORDER = 10``: its place in ``train_all()``;
* ``BENCH = "bench:BENCH"``: a :class:`~colab_utils.bench.spec.ModelBench` telling
  ``python -m colab_utils bench`` what the task does not: offline data overrides, a real
  epoch's size, the model's own measurements (without it the bench uses the datasets as
  configured).

Only ``TASK`` is required; ``EXTRAS`` and ``TRAIN_ORDER`` concern the models that ship with
the library (a test holds every one of them to it).

The engine never imports this module: ``colab_utils.train`` looks the task up here and hands
it to the engine.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from colab_utils.engine.contract import Task

MODELS_PACKAGE = "colab_utils.models"
_MODELS_DIR = Path(__file__).parent / "models"


@dataclass(frozen=True)
class ModelPackage:
    """What a model's package declares, and where its classes are."""

    name: str
    package: str
    task: str
    predictor: str | None
    extras: str | None
    train_order: int | None
    bench: str | None = None

    def load(self, spec: str) -> Any:
        """The attribute that ``spec`` (``module:name``) names in this package."""
        module, attribute = spec.split(":", 1)
        return getattr(importlib.import_module(f"{self.package}.{module}"), attribute)

    def task_class(self) -> type[Task]:
        return self.load(self.task)

    def predictor_class(self) -> type | None:
        return self.load(self.predictor) if self.predictor else None


def shipped_models() -> list[str]:
    """The models that ship with the library, in ``train_all()`` order."""
    names = [m.name for m in pkgutil.iter_modules([str(_MODELS_DIR)]) if m.ispkg]
    return sorted(names, key=lambda name: (model_package(name).train_order or 0, name))


def _declared(module: ModuleType, name: str) -> ModelPackage:
    if not hasattr(module, "TASK"):
        raise ValueError(
            f"{module.__name__} is not a model package: its __init__.py must set TASK = \"task:ClassName\" "
            "(see colab_utils.registry)."
        )
    order = getattr(module, "TRAIN_ORDER", None)
    return ModelPackage(
        name=name,
        package=module.__name__,
        task=module.TASK,
        predictor=getattr(module, "PREDICTOR", None),
        extras=getattr(module, "EXTRAS", None),
        train_order=None if order is None else int(order),
        bench=getattr(module, "BENCH", None),
    )


def model_package(name: str) -> ModelPackage:
    """The package of model ``name``: a shipped model's name, or the dotted path of an outside package."""
    shipped = (_MODELS_DIR / name / "__init__.py").is_file()
    if shipped:
        return _declared(importlib.import_module(f"{MODELS_PACKAGE}.{name}"), name)
    try:
        module = importlib.import_module(name) if name.replace(".", "").replace("_", "").isalnum() else None
    except ImportError:
        module = None
    if module is None:
        valid = [m.name for m in pkgutil.iter_modules([str(_MODELS_DIR)]) if m.ispkg]
        close = difflib.get_close_matches(name, valid, n=3)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise ValueError(
            f"Unknown model {name!r}.{hint} Valid models: {', '.join(sorted(valid))}; a model kept outside "
            "the library is named by its importable package."
        )
    return _declared(module, name)


def get_task(name: str) -> Task:
    """An instance of model ``name``'s task, its ``name`` set."""
    task = model_package(name).task_class()()
    task.name = name
    return task


def predictor_class(name: str) -> type:
    """The predictor of model ``name``; ValueError when it has none or the name is unknown."""
    runs = "predict() runs " + ", ".join(m for m in shipped_models() if model_package(m).predictor)
    try:
        found = model_package(name)
    except ValueError as error:
        raise ValueError(
            f"The weights are of an unknown task {name!r} ({runs}). If they were exported by a newer "
            "colab_utils, update the library (the notebook's install cell)."
        ) from error
    cls = found.predictor_class()
    if cls is None:
        raise ValueError(f"predict() cannot run {name} models yet; {runs}.")
    return cls
