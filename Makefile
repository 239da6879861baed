# Two commands do all setup on a fresh clone:  make demo   and   make test.
# Only Python 3.11+ is needed beforehand: uv is installed into .tools/ when it is not on the PATH, and
# every Python package comes from uv.lock.

SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
RUN := $(UV) run --frozen

.PHONY: setup demo test check pytest lint format docs bench bench-scale fixtures clean

setup: .venv/.synced node_modules/.installed

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet
	@touch $@

# axe-core for the letters' accessibility tests, exactly as locked (skipped where there is no npm)
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the accessibility tests will be skipped"; fi

demo: setup  ## run the pipeline end to end on the example partnership, in ./demo
	$(RUN) clb demo --workspace demo

test: lint pytest  ## everything CI runs

# pytest-xdist: the long tests (servers, schedules, workers) mostly wait, so four workers on two cores
pytest: setup
	$(RUN) pytest -n 4 --dist worksteal --durations=15

check: setup  ## the fast tier for the edit loop (about a minute): no real servers, client programs or long property tests
	$(RUN) ruff check pipeline tests bench
	$(RUN) pytest -n 4 -m "not integration and not slow" -q

lint: setup
	$(RUN) ruff check pipeline tests bench
	$(RUN) ruff format --check pipeline tests bench
	$(RUN) mypy

format: setup
	$(RUN) ruff format pipeline tests bench
	$(RUN) ruff check --fix pipeline tests bench

docs: setup  ## rewrite the docs' tables that mirror code (problem codes, tick marks, settings)
	$(RUN) python -m tests.docs_tables

bench: setup  ## speed and memory figures beside their baselines
	$(RUN) python -m bench.forms
	$(RUN) python -m bench.intake
	$(RUN) python -m bench.commands
	$(RUN) python -m bench.fetch

bench-scale: setup  ## 20 partnerships on one Prefect server and 2 workers: PostgreSQL beside SQLite (~8 min)
	$(RUN) python -m bench.scale

fixtures: setup  ## remake tests/data/returns with real LibreOffice and Gnumeric
	$(RUN) python -m tests.clients.make_fixtures

clean:
	rm -rf demo .pytest_cache .mypy_cache .ruff_cache
