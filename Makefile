# rakuten-connector: `make demo` runs the system on this machine, `make test` checks everything.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SRC := src tests benchmarks
TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
PYTEST_ARGS ?= -q

.PHONY: install demo test lint types test-sqlite test-postgres openapi format clean

$(BIN)/rakuten-connector: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/rakuten-connector

demo: install
	$(BIN)/rakuten-connector demo

test: install lint types test-sqlite test-postgres

lint:
	$(BIN)/ruff check $(SRC)
	$(BIN)/ruff format --check $(SRC)

types:
	$(BIN)/mypy --strict src

test-sqlite:
	TEST_DB=sqlite $(BIN)/pytest $(PYTEST_ARGS)

test-postgres:
	TEST_DB=postgresql TEST_POSTGRES_URL=$(TEST_POSTGRES_URL) $(BIN)/pytest $(PYTEST_ARGS)

openapi: install
	$(BIN)/python -m rakuten_connector.openapi openapi/openapi.json

format:
	$(BIN)/ruff check --fix $(SRC)
	$(BIN)/ruff format $(SRC)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache rakuten_connector.db*
