# The few commands the README shows. PYTHON may point at a venv's interpreter.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
DATA ?= $(or $(MUSICRS_DATA),../shared/musicrs/musicrs.jsonl)

.PHONY: install install-test run test lint format bench

# torch first, from the CPU wheel: otherwise a dependency pulls a multi-GB CUDA build.
install:
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e .
	$(PIP) install --quiet --no-deps musicnn==0.1.0 tf-keras==2.21.0

install-test: install
	$(PIP) install --quiet -e ".[test]"

# The main job on its embedded default: offline, no API key.
run: install
	$(PYTHON) -m evals run --system popularity --mode query_only --data $(DATA) --out runs/popularity

test: install-test
	$(PYTHON) -m pytest

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

format:
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

bench:
	$(PYTHON) -m evals bench --data $(DATA)
