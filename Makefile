# Two commands for a fresh Linux machine with Python >= 3.10 (and its venv module):
#   make demo   set everything up, then train the headline model on synthetic data, get
#               killed like a Colab runtime, resume from the checkpoint, export the weights
#   make test   set everything up, then run the linter and the test suite (two pytest workers)
# Another interpreter gets its own environment: make test PYTHON=python3.13 VENV=.venv-py313
PYTHON ?= python3
VENV ?= .venv
PYTEST_ARGS ?=
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m colab_utils demo

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)
