# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint venv demo clean bench chaos lock lock-upgrade

# Exactly what was tested: every package from the lock (requirements/dev.txt = the runtime
# dependencies + extras `local` and `test` + the build backend, each file hash-checked), then
# the project itself without dependencies; `pip check` fails if pyproject.toml asks for
# something the lock lacks (then `make lock`).
$(STAMP): pyproject.toml requirements/dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --no-deps --require-hashes -r requirements/dev.txt
	PYTHONWARNINGS=ignore $(BIN)/pip install --quiet --no-deps --no-build-isolation -e .  # quiet: setuptools' editable banner
	$(BIN)/pip check
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

# requirements/*.txt from pyproject.toml (README: "Locked dependencies"): dev.txt for make/CI,
# runtime.txt for the image (the same versions: it is resolved under dev.txt), build.txt for the
# image's wheel build. `make lock` keeps the pins that still fit; `make lock-upgrade` moves all.
PIP_COMPILE = $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links --no-emit-trusted-host $(LOCK_ARGS)

lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --no-deps --require-hashes -r requirements/dev.txt
	$(PIP_COMPILE) --all-build-deps --extra local --extra test -o requirements/dev.txt pyproject.toml
	$(PIP_COMPILE) -c requirements/dev.txt -o requirements/runtime.txt pyproject.toml
	$(PIP_COMPILE) --all-build-deps --only-build-deps -c requirements/dev.txt -o requirements/build.txt pyproject.toml

lock-upgrade:
	$(MAKE) lock LOCK_ARGS=--upgrade

clean:
	rm -rf $(VENV) .zcd .pytest_cache .mypy_cache .ruff_cache
