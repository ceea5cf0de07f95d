"""A failure the library knows shows its message alone in a notebook, as the CLI prints it alone;
a failure nobody foresaw keeps its traceback."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell


@pytest.fixture
def notebook():
    shell = InteractiveShell.instance()
    yield shell
    InteractiveShell.clear_instance()


def test_a_known_failure_shows_its_message_without_a_traceback(notebook, capsys):
    notebook.run_cell("import colab_utils\ncolab_utils.load_config('reidd', 'cpu', verbose=False)")
    shown = capsys.readouterr().out
    assert shown.strip().startswith("ConfigError: Unknown model 'reidd'")
    assert "Traceback" not in shown and "config.py" not in shown


def test_an_unforeseen_failure_keeps_its_traceback(notebook, capsys):
    notebook.run_cell("import colab_utils.registry\ncolab_utils.registry.model_package(None)")
    assert "Traceback" in capsys.readouterr().out
