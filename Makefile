# A new user's two commands: `make demo` and `make test` (both set up .venv from pyproject.toml first).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench compare servers serve-bench

$(VENV)/.installed: pyproject.toml setup.py tracing/_speedups.c exporters/_otlp_speedups.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/agent-tracing demo

servers: $(VENV)/.installed
	$(BIN)/python -m tests.servers.phoenix --install
	$(BIN)/python -m tests.servers.interop --install
	$(BIN)/python -m tests.servers.instrumentors --install

test: servers
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_core.py

compare: $(VENV)/.installed
	$(BIN)/python benchmarks/compare.py

serve-bench: $(VENV)/.installed
	$(BIN)/python benchmarks/serve.py
