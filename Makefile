# The course's entry points. Every target sets up what it needs first (a virtual environment in .venv).
#   make demo       - set up, generate the student notebooks, grade a demo class, print the grade table
#   make test       - set up, lint (ruff) and run the whole test suite (what CI runs)
#   make test-fast  - lint and run the tests not marked slow (no class autograde, training or nbgrader runs),
#                     on every core (pytest-xdist)
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup demo test test-fast lint generate figures lab clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

demo: setup
	$(BIN)/python -m grader demo

lint: setup
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest

test-fast: lint
	$(BIN)/python -m pytest -m "not slow" -n auto

generate: setup
	$(BIN)/python -m grader generate

figures: setup
	$(BIN)/python assets/make_figures.py

lab: setup
	$(BIN)/jupyter lab notebooks/gan

clean:
	rm -rf $(VENV) .cache demo gradebook.db
