# Everything the project needs is installed by `make install` into .venv in the checkout.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install install-selfie test lint demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# the optional MediaPipe backend (foreground_class "selfie"): its wheel declares numpy < 2, so it
# goes in with --no-deps beside what it really needs (the selfie extra)
install-selfie: install
	$(PY) -m pip install --quiet -e '.[dev,selfie]'
	$(PY) -m pip install --quiet --no-deps mediapipe==0.10.21

lint: install
	$(PY) -m ruff check neural_atlases tests

test: lint
	$(PY) -m pytest

demo: install
	$(VENV)/bin/neural-atlases demo

bench: install
	$(PY) -m neural_atlases.bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
