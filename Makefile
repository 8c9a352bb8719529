# `make run`: install everything and serve the graph over the sandbox upstreams.
# `make test`: install everything and run the whole suite (lint, types, tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
GRAPHIQL := gateway/graphiql
GRAPHIQL_STAMP := gateway/static/graphiql/.built

.PHONY: install run test lint typecheck pytest schema bench clean static

install: $(STAMP) $(GRAPHIQL_STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,otlp]'
	touch $@

static: $(GRAPHIQL_STAMP)

$(GRAPHIQL_STAMP): $(GRAPHIQL)/package.json $(GRAPHIQL)/package-lock.json $(GRAPHIQL)/build.mjs $(wildcard $(GRAPHIQL)/src/*)
	cd $(GRAPHIQL) && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build
	touch $@

run: install
	$(BIN)/gateway serve --sandbox

lint: $(STAMP)
	$(BIN)/ruff check gateway tests bench
	$(BIN)/ruff format --check gateway tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest -q

test: install lint typecheck pytest

schema: $(STAMP)
	$(BIN)/gateway schema > schema/schema.graphql
	$(BIN)/gateway schema --federation > schema/subgraph.graphql

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) gateway/static/graphiql $(GRAPHIQL)/node_modules
