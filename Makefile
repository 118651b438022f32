# The few commands the README shows. PYTHON may point at a venv's interpreter.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
DATA ?= $(or $(MUSICRS_DATA),../shared/musicrs/musicrs.jsonl)

.PHONY: install pip-install install-test system-packages system-packages-test run demo bench-demo test \
	lint format bench

# System packages from the distribution's archive (apt-get, as root or through passwordless
# sudo; otherwise one sentence naming what to install). A script, not Make recipes: checking
# each package, choosing root or sudo and failing with one sentence is shell logic that reads
# badly inside a Makefile. On a ready machine it only looks the programs up.
RUN_PACKAGES := ffmpeg
TEST_PACKAGES := $(RUN_PACKAGES) espeak-ng chromium fonts-noto-color-emoji fluidsynth timgm6mb-soundfont

system-packages:
	.ci/system-packages $(RUN_PACKAGES)

# espeak-ng speaks the lyrics fixtures, chromium runs the browser tests, the emoji font keeps
# their screenshots readable, fluidsynth renders the synthetic music corpus with the General MIDI
# soundfont timgm6mb (6 MB installed; fluid-soundfont-gm is 145 MB).
system-packages-test:
	.ci/system-packages $(TEST_PACKAGES)

# musicnn's own pins are from 2019: it and tf-keras go in with --no-deps.
TAGGER_PACKAGES := musicnn==0.1.0 tf-keras==2.21.0

# Skipped when .ci/python-packages-ready finds every pin installed (under a second; pip
# alone takes about a minute to find that nothing changed).
install:
	@$(PYTHON) .ci/python-packages-ready $(TAGGER_PACKAGES) || $(MAKE) --no-print-directory pip-install

# torch first, from the CPU wheel: otherwise a dependency pulls a multi-GB CUDA build.
pip-install:
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e .
	$(PIP) install --quiet --no-deps $(TAGGER_PACKAGES)

install-test: install
	@$(PYTHON) .ci/python-packages-ready --extra test || $(PIP) install --quiet -e ".[test]"

# The main job, offline by default: install, build the catalog if it is missing (with a
# progress bar), then serve the chat demo on http://127.0.0.1:7860.
run: system-packages install
	$(MAKE) demo

# The demo without reinstalling; the catalog build inside it is skipped when one exists.
# Its "How well does it do?" tab reads runs/results.json: when that is missing, the
# model-free baselines (seconds each) are run first so the tab has our rows beside the
# paper's; if they cannot run, the demo starts anyway and the tab says how to fill it.
BENCHMARK_SYSTEMS := lexical popularity random
demo:
	@test -f runs/results.json || { \
		for system in $(BENCHMARK_SYSTEMS); do \
			$(PYTHON) -m evals run --system $$system --data $(DATA) --quiet || exit 0; \
		done; \
		$(PYTHON) -m evals.results_file; }
	MUSICRS_DATA=$(DATA) $(PYTHON) -m demo

# Cold start, streamed-step and answer latency, 10 concurrent sessions (medians).
bench-demo:
	MUSICRS_DATA=$(DATA) $(PYTHON) -m demo.bench

test: system-packages-test install-test
	$(PYTHON) -m pytest

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

format:
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

bench:
	$(PYTHON) -m evals bench --data $(DATA)
