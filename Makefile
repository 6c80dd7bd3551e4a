# Everything the project needs is installed by `make install` into .venv in the checkout.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test lint demo bench bench-multi clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: install
	$(PY) -m ruff check neural_atlases tests

test: lint
	$(PY) -m pytest

demo: install
	$(VENV)/bin/neural-atlases demo

bench: install
	$(PY) -m neural_atlases.bench

bench-multi: install
	$(PY) -m neural_atlases.bench --multi

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
