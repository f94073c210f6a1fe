# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint venv demo clean bench chaos

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/zcd run

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy domain workflows activities integrations store api worker simulators runtime cli local_stack demo outside_world tests

demo: $(STAMP)
	$(BIN)/zcd demo

bench: $(STAMP)
	$(BIN)/python -m tests.bench.throughput

# issue 9's full chaos run (docs/reliability.md); CHAOS_ARGS="--seed N" repeats one
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos --form full $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) .zcd .pytest_cache .mypy_cache .ruff_cache
