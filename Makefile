# Two commands on a fresh machine: `make run` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test bench bench-peers install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[demo]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## The main job on embedded defaults: embedded Postgres, the bundled demo recording, API on 127.0.0.1:8080.
run: install
	$(BIN)/runledger run

## The whole test suite.
test: install-dev
	$(BIN)/python -m pytest

## Benchmarks (figures, not pass/fail).
bench: install-dev
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.watch
	$(BIN)/python -m bench.artifacts
	$(BIN)/python -m bench.queries
	$(BIN)/python -m bench.logs

## runledger against ML Metadata and MLflow (peers installed on first use into .bench-venvs/).
bench-peers: install-dev
	$(BIN)/python -m bench.peers

clean:
	rm -rf $(VENV) .pytest_cache
