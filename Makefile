# The verbs a user types. Every target creates .venv (pinned deps) when it is missing or stale.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=
CKPT ?=

.PHONY: help venv train test test-fast data lint clean

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11 ...'"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements.lock -e ".[dev,faces,serve]"
	@touch $(STAMP)

venv: $(STAMP)  ## create .venv and install the package with pinned dependencies

train: $(STAMP)  ## train (default experiment=quickstart); extra Hydra overrides via ARGS="..."
	$(PY) -m animegan.cli.train $(ARGS)

test: $(STAMP)  ## run the whole test suite on CPU
	$(PY) -m pytest -q $(ARGS)

test-fast: $(STAMP)  ## unit + config tests only
	$(PY) -m pytest -q tests/unit tests/config $(ARGS)

data: $(STAMP)  ## download and prepare the official AnimeGANv2 dataset into data/ (needs internet)
	$(PY) -m animegan.data.download $(ARGS)

lint: $(STAMP)  ## ruff check (pycodestyle, pyflakes, imports, bugbear, pyupgrade, Google docstrings on src/)
	$(PY) -m ruff check src tests

# Feature areas add their targets in mk/*.mk (one fragment per area).
-include mk/*.mk

clean:  ## remove caches and run outputs (keeps .venv and data/)
	rm -rf outputs multirun .pytest_cache .ruff_cache
