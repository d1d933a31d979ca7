# The two commands of the README's Quick start: `make demo` and `make test`.
#   make demo                     runtime dependencies only (no Spark, Kafka or test tools)
#   make demo ARGS="--port 9000"  options for `logradar demo` (see `logradar demo --help`)
#   make test                     plus the `test` extra, then the whole suite
#   make test PYTEST_ARGS="-x tests/demo"   options for pytest (runs with pytest-xdist)
VENV ?= .venv
PYTHON ?= python3
ARGS ?=
PYTEST_ARGS ?=
# pytest-xdist workers: 4 on this 2-core machine was fastest (tests wait on servers and
# subprocesses; BENCHMARKS.md, "First run and CLI"); PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 4
# One stamp per kind of install, named after pyproject.toml's checksum: editing it reinstalls.
SUM := $(shell cksum pyproject.toml | cut -d' ' -f1)
RUNTIME_STAMP := $(VENV)/.runtime-installed-$(SUM)
TEST_STAMP := $(VENV)/.test-installed-$(SUM)

.PHONY: demo test lint install install-test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet -e .
	rm -f $(VENV)/.runtime-installed-*
	touch $@

$(TEST_STAMP): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.test-installed-* $(VENV)/.runtime-installed-*
	touch $@ $(RUNTIME_STAMP)

install: $(RUNTIME_STAMP)

install-test: $(TEST_STAMP)

demo: $(RUNTIME_STAMP)
	$(VENV)/bin/logradar demo $(ARGS)

test: $(TEST_STAMP)
	scripts/install-test-deps.sh
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/pytest -q -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
