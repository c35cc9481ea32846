# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format migrate check clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)

# Reinstall when the dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@ $(VENV)/.installed

## run: install if needed, migrate, and serve the embedded platform on http://$(HOST):$(PORT)
run: $(VENV)/.installed
	$(BIN)/finagency migrate
	$(BIN)/finagency serve --host $(HOST) --port $(PORT)

## test: install with the dev extras if needed and run the whole suite
test: $(VENV)/.installed-dev
	$(BIN)/pytest

## lint: ruff (lint and format) and mypy
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/shellcheck .ci/run infrastructure/scripts/*.sh
	$(BIN)/hadolint --failure-threshold info infrastructure/docker/Dockerfile
	$(BIN)/bandit -q -r src -ll
	$(BIN)/python infrastructure/scripts/render-monitoring.py --check

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: $(VENV)/.installed
	$(BIN)/finagency migrate

check: $(VENV)/.installed
	$(BIN)/finagency check

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
