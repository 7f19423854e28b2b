# From a checkout, on a machine with internet: each target makes the virtual
# environment .venv, installs what it needs and runs (see README.md).
#   make quickstart   the quick start (downloads Fashion-MNIST, verified);
#                     make quickstart FLAGS='--config.epochs=2' changes its config
#   make test         style and lint checks (ruff), then the whole test suite
#                     (downloads the data sets it needs)
PYTHON ?= python3
FLAGS ?=
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: quickstart test

quickstart: $(VENV)/.installed-train
	$(PY) -m train --config configs/quickstart.py --workdir workdirs/quickstart $(FLAGS)

test: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q tests

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-train: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[train]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[train,test,tfds,tfds-prepare]'
	touch $@
