# The two commands: `make demo` runs the main job, `make test` runs the test suite.
# Each creates .venv and installs what it needs by itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch pinned explicitly first: a CPU build on these machines' index (plain PyPI: see README)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/kgtransfer demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check kgtransfer tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/operators.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
