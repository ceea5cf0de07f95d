"""The notebooks' entry points: ``colab_utils.<name>`` is the function, every time it is used."""

from __future__ import annotations

import importlib
import pkgutil

import colab_utils


def test_no_module_of_the_package_is_named_after_an_entry_point():
    # importing such a submodule would replace the function by the module on the package
    modules = {module.name for module in pkgutil.iter_modules(colab_utils.__path__)}
    assert not modules & set(colab_utils._API)


def test_entry_points_stay_functions_after_the_library_imported_all_its_modules():
    for module in {*colab_utils._API.values(), "colab_utils.cli"}:
        importlib.import_module(module)
    for name, module in colab_utils._API.items():
        for _ in range(2):  # a notebook cell run twice
            function = getattr(colab_utils, name)
            assert callable(function) and function is getattr(importlib.import_module(module), name)
