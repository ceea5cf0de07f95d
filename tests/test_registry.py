"""One registry: every list that names the models is derived from the model packages or held
to them here (setup.py's extras, the notebooks' install lines, train_all's order, the CLI)."""

from __future__ import annotations

import ast
import re

import pytest
from conftest import REPO

from colab_utils.config import available_models
from colab_utils.engine.contract import Task
from colab_utils.inference.base import Predictor
from colab_utils.registry import get_task, model_package, predictor_class, shipped_models
from colab_utils.suite import ORDER


def setup_py_lists() -> tuple[set[str], list[str]]:
    """setup.py's FAMILIES keys and TESTED_FAMILIES, read without running setup()."""
    tree = ast.parse((REPO / "setup.py").read_text())
    assigned = {
        node.targets[0].id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    families = {key.value for key in assigned["FAMILIES"].keys}
    return families, ast.literal_eval(assigned["TESTED_FAMILIES"])


def installed_extras(notebook: str) -> set[str]:
    text = (REPO / "notebooks" / f"{notebook}.ipynb").read_text()
    (extras,) = re.findall(r"colab_utils\[([a-z0-9_,]+)\] @", text)
    return set(extras.split(","))


@pytest.mark.parametrize("name", shipped_models())
def test_every_shipped_model_declares_its_package_in_full(name):
    found = model_package(name)
    families, tested = setup_py_lists()
    assert found.extras in families and found.extras in tested
    assert issubclass(found.task_class(), Task) and issubclass(predictor_class(name), Predictor)
    assert get_task(name).name == name
    assert installed_extras(name) == {found.extras}


def test_train_all_order_and_the_cli_models_are_the_registry():
    orders = [model_package(name).train_order for name in shipped_models()]
    assert orders == sorted(set(orders)) and None not in orders
    assert list(ORDER) == shipped_models()
    assert available_models() == sorted(shipped_models())  # a config per model, no other


def test_suite_notebooks_install_every_model_they_run():
    assert installed_extras("train_all") == {"all"}
    packages = [model_package(name) for name in shipped_models()]
    with_predictor = {found.extras for found in packages if found.predictor}
    assert installed_extras("try_your_frames") == with_predictor


def test_an_unknown_model_is_refused_with_the_nearest_names():
    with pytest.raises(ValueError, match="Did you mean reid") as error:
        get_task("reidd")
    assert "Valid models: ball3d, baller2vec" in str(error.value)
    with pytest.raises(ValueError, match="not a model package"):
        get_task("json")  # importable, but declares no TASK
