"""The task registry: model name -> its :class:`~colab_utils.tasks.base.Task`.

Tasks register themselves with :func:`register_task` when their module is imported;
:func:`get_task` imports ``colab_utils.tasks.<name>`` on first use, so heavy model
libraries load only for the model being trained. A config may also name a task by
``"package.module:ClassName"``, for tasks that live outside this library.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path

from colab_utils.tasks.base import EvalReport, Task

__all__ = ["EvalReport", "Task", "available_tasks", "get_task", "register_task"]

_REGISTRY: dict[str, type[Task]] = {}


def register_task(name: str) -> Callable[[type[Task]], type[Task]]:
    def decorate(cls: type[Task]) -> type[Task]:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def available_tasks() -> list[str]:
    """Task names shipped with the library (whether or not imported yet)."""
    shipped = {m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name != "base"}
    return sorted(shipped | set(_REGISTRY))


def get_task(name: str) -> Task:
    """An instance of the task called ``name`` (or ``module:Class``)."""
    if ":" in name:
        module_name, class_name = name.split(":", 1)
        cls = getattr(importlib.import_module(module_name), class_name)
        return cls()
    if name not in _REGISTRY and name in available_tasks():
        importlib.import_module(f"colab_utils.tasks.{name}")
    if name not in _REGISTRY:
        valid = available_tasks()
        close = difflib.get_close_matches(name, valid, n=3)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise ValueError(f"Unknown task {name!r}.{hint} Valid tasks: {', '.join(valid) or 'none'}.")
    return _REGISTRY[name]()
