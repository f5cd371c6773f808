# The two commands of the README, and the checks behind `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: serve test lint typecheck pytest pytest-sqlite pytest-postgresql bench dist clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

## Start Maskline: embedded SQLite under ./var, sandbox carrier, a development account printed.
serve: $(STAMP)
	$(BIN)/maskline serve

## Run every check: lint, types, and the whole test suite.
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

## The suite runs twice: on SQLite, then on PostgreSQL (started by the tests themselves).
pytest: pytest-sqlite pytest-postgresql

pytest-sqlite: $(STAMP)
	MASKLINE_TEST_ENGINE=sqlite $(BIN)/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

pytest-postgresql: $(STAMP)
	MASKLINE_TEST_ENGINE=postgresql $(BIN)/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

## Benchmark: throughput against a bare ceiling, participant creation with up to 1M sessions.
## Writes bench/results/ and the table in docs/performance.md; BENCH_ARGS picks parts.
bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || { \
		sudo=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$sudo apt-get install -y wrk || { $$sudo apt-get update && $$sudo apt-get install -y wrk; }; }
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## A wheel for production installs (`pip install dist/maskline-*.whl`): no development tools.
dist: $(STAMP)
	$(BIN)/python -m pip wheel --no-deps --no-build-isolation --wheel-dir dist .

clean:
	rm -rf $(VENV) var dist build .pytest_cache .mypy_cache .ruff_cache
