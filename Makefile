# The verbs a newcomer looks for. `make run` and `make test` set everything up on first use
# and are fast the second time (each step below is skipped while its inputs are unchanged).
SHELL := /bin/bash
.DEFAULT_GOAL := help

export TF_CPP_MIN_LOG_LEVEL := 2
# Python keeps each module it compiles (.pyc in __pycache__) so the next process skips that
# work. Some shells, containers and CI images set PYTHONDONTWRITEBYTECODE, and with it
# every process compiles Rasa, TensorFlow and the rest again from source: here that was
# 10 of a Rasa server's 18 s cold start, paid by every server the tests start. The setup
# installs with --no-compile, so the cache fills on first use, in .venv and our own trees
# (__pycache__ is git-ignored).
unexport PYTHONDONTWRITEBYTECODE

VENV      := .venv
PY        := $(VENV)/bin/python
RASA      := $(VENV)/bin/rasa
STAMP     := $(VENV)/.installed
SPACY_DIR := models/spacy/en_support
MODEL_STAMP := models/.trained
WIDGET_STAMP := bot/widget/node_modules/.installed
AXE_STAMP := tests/e2e/axe/node_modules/.installed
CHROMIUM  ?= /usr/bin/chromium
# The model's own components (bot/nlp) and routing.yml (which intents are needs) shape it too.
TRAINING_INPUTS := config.yml domain.yml $(shell find data -name '*.yml' 2>/dev/null) $(SPACY_DIR)/meta.json \
	bot/nlp/detail_masker.py bot/nlp/linear_classifier.py bot/config/routing.yml bot/support/parsing.py

# Rasa 3.6 runs on Python 3.8-3.10; the project uses 3.10. Order of preference: PYTHON=..., a working python3.10,
# then pyenv's 3.10 builds (pyenv's python3.10 shim refuses to run unless selected).
define FIND_PYTHON
ok() { "$$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1; }; \
if [ -n "$(PYTHON)" ]; then \
  ok "$(PYTHON)" && { echo "$(PYTHON)"; exit 0; }; \
  echo "PYTHON=$(PYTHON) is not a Python 3.10 interpreter." >&2; exit 1; \
fi; \
for c in python3.10 $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.10.*/bin/python 2>/dev/null | sort -V -r) ; do \
  ok "$$c" && { command -v "$$c" || echo "$$c"; exit 0; }; \
done; \
echo "No Python 3.10 found (Rasa 3.6 needs 3.8-3.10; this project uses 3.10). Install Python 3.10 (e.g. 'pyenv install 3.10'," >&2; \
echo "or your system's python3.10 and python3.10-venv packages), or pass PYTHON=/path/to/python3.10." >&2; \
exit 1
endef

.PHONY: help setup browser run test train lint shell eval bench clean

help:
	@echo "make run    - set up if needed, train if needed, start the assistant"
	@echo "make test   - set up if needed, run every test"
	@echo "make train  - retrain the Rasa model now"
	@echo "make shell  - talk to the assistant in this terminal"
	@echo "make lint   - ruff, no import cycles, mypy, 'rasa data validate' and the refusal guard on every response"
	@echo "make eval   - measure understanding on held-out and public data, and the conversation suite"
	@echo "make bench  - speed benchmarks beside their baselines, written to reports/bench.md"
	@echo "make scale-test - 2 Rasa + 2 action servers + 2 dispatchers behind nginx on PostgreSQL/Redis, under load, with kills"
	@echo "make screens - screenshots of the chat widget's states, the console seeing the customer type, and the staff pages (staff-*.png) in reports/screens/"

$(STAMP): pyproject.toml requirements.lock
	@py=$$($(FIND_PYTHON)) || exit 1; \
	if [ ! -x $(PY) ]; then echo "==> Creating $(VENV) with $$py"; "$$py" -m venv $(VENV) || exit 1; fi
	@echo "==> Installing dependencies into $(VENV) (first time: about 2 minutes, 2.7 GB)"
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip==24.0" "setuptools==70.3.0" "wheel==0.45.1"
	@# --no-compile: byte-compiling all 2.7 GB costs more CPU than the rest of the install; Python
	@# compiles (and caches) only the modules that are imported, on first use.
	@$(PY) -m pip install --quiet --disable-pip-version-check --progress-bar off --no-compile \
	  -c requirements.lock -e '.[dev]'
	@touch $@

$(SPACY_DIR)/meta.json: $(STAMP) bot/nlp/spacy_pipeline.py bot/nlp/patterns.yml
	@echo "==> Building the spaCy pipeline into $(SPACY_DIR)"
	@$(PY) -m bot build-spacy --out $(SPACY_DIR)

$(MODEL_STAMP): $(STAMP) $(TRAINING_INPUTS)
	@echo "==> Training the Rasa model"
	@# The stamp takes the time training started: a file edited while it ran is newer, so
	@# the next make trains again instead of keeping a model that missed the edit.
	@# --force: Rasa's cache fingerprints config and data only, so after an edit to our own
	@# components (bot/nlp) or to the spaCy pipeline it would restore the old classifier.
	@touch $@.started
	@$(PY) -m bot train --force
	@mv $@.started $@

# The website widget's front-end library (socket.io-client), pinned in package-lock.json.
$(WIDGET_STAMP): bot/widget/package.json bot/widget/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: the chat widget needs Node.js and npm (e.g. 'apt-get install nodejs npm')." >&2; exit 1; }
	@echo "==> Installing the chat widget's socket.io client from the npm registry"
	@npm ci --prefix bot/widget --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# axe-core for the staff pages' accessibility checks (tests/e2e/test_staff_look_browser.py).
$(AXE_STAMP): tests/e2e/axe/package.json tests/e2e/axe/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: the accessibility checks need Node.js and npm." >&2; exit 1; }
	@echo "==> Installing axe-core (accessibility checks) from the npm registry"
	@npm ci --prefix tests/e2e/axe --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# Browser tests drive Debian's Chromium (never a downloaded browser). Installed here when
# missing and this user may; otherwise the message says what to install.
browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "==> Installing Debian's chromium for the browser tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null || exit 1; \
	  else \
	    echo "No Chromium at $(CHROMIUM): install Debian's 'chromium' package, or pass CHROMIUM=/path/to/chromium." >&2; exit 1; \
	  fi; \
	fi

# The scale test puts Debian's nginx in front (never a downloaded build); installed here
# when missing and this user may; otherwise the message says what to install.
NGINX ?= $(shell command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
.PHONY: nginx scale-test
nginx:
	@if [ ! -x "$(NGINX)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "==> Installing Debian's nginx-light for the scale test"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx-light >/dev/null || exit 1; \
	  else \
	    echo "No nginx at $(NGINX): install Debian's 'nginx-light' (or 'nginx') package, or pass NGINX=/path/to/nginx." >&2; exit 1; \
	  fi; \
	fi

# Several Rasa servers, action servers and dispatchers behind nginx on PostgreSQL and Redis,
# one Rasa and one dispatcher killed midway (tests/scale/). Not part of `make test`: it
# takes minutes and both cores. CX_LOAD_CONVERSATIONS=N shrinks the load; CX_SCALE_MODEL=path
# serves that model instead of the newest in models/.
scale-test: setup nginx $(MODEL_STAMP)
	@CX_SCALE_TEST=1 CX_NGINX=$(NGINX) $(PY) -m pytest -q -s -p no:cacheprovider tests/scale

setup: $(STAMP) $(SPACY_DIR)/meta.json $(WIDGET_STAMP) $(AXE_STAMP)

run: setup $(MODEL_STAMP)
	@$(PY) -m bot run

# Both cores (pytest-xdist): tests/conftest.py keeps every test on the shared e2e assistant in
# one worker (one Rasa system for them all) and each other module whole in one worker, and
# orders the units (the long ones first, hence --no-loadscope-reorder).
# TEST_WORKERS=0 runs everything in this one process, as before; PYTEST_ARGS are passed on
# (e.g. PYTEST_ARGS="--durations=50").
# The model trains (when it must) in the background while the tests run: training keeps one
# core busy for a minute and a half on a clean clone, and most tests need no model. Those
# that do wait for TRAINING_STATUS (tests/e2e/conftest.py, latest_model); a failed training
# fails them, and `make test`, with the end of TRAINING_LOG.
TEST_WORKERS ?= 2
PYTEST_ARGS ?=
TRAINING_LOG := models/training.log
TRAINING_STATUS := models/.training.status
# Through a variable: a recipe line naming $(MAKE) itself would run even under `make -n`.
TRAIN_IF_NEEDED = $(MAKE) --no-print-directory $(MODEL_STAMP)
test: setup browser
	@rm -f $(TRAINING_STATUS)
	@echo "==> Training the Rasa model if needed, in the background (log: $(TRAINING_LOG))"
	@{ $(TRAIN_IF_NEEDED); echo $$? > $(TRAINING_STATUS).tmp; \
	  mv $(TRAINING_STATUS).tmp $(TRAINING_STATUS); } > $(TRAINING_LOG) 2>&1 & \
	TEST_TRAINING_STATUS=$(TRAINING_STATUS) TEST_TRAINING_LOG=$(TRAINING_LOG) CX_CHROMIUM=$(CHROMIUM) \
	  $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder $(PYTEST_ARGS); \
	tests=$$?; wait; \
	if [ "$$(cat $(TRAINING_STATUS) 2>/dev/null)" != 0 ]; then \
	  echo "Training the Rasa model failed; the end of $(TRAINING_LOG):" >&2; tail -n 30 $(TRAINING_LOG) >&2; exit 1; \
	fi; \
	exit $$tests

# The chat widget's states as PNGs for people to look at (first screen, a person joining and
# typing, seen, hand back, a phone, focus rings), taken from the real servers in headless
# Chromium by tests/e2e/test_widget_screens.py; about a minute.
SCREENS_DIR := reports/screens
.PHONY: screens
screens: setup browser $(MODEL_STAMP)
	@mkdir -p $(SCREENS_DIR)
	@CX_CHROMIUM=$(CHROMIUM) CX_SCREENS_DIR=$(SCREENS_DIR) $(PY) -m pytest -q -s -p no:cacheprovider \
	  tests/e2e/test_widget_screens.py tests/e2e/test_staff_look_browser.py tests/e2e/test_console_screens.py

train: setup
	@$(PY) -m bot train --force
	@touch $(MODEL_STAMP)

shell: setup $(MODEL_STAMP)
	@$(PY) -m bot shell

lint: setup
	@$(VENV)/bin/ruff check bot actions tests
	@$(VENV)/bin/ruff format --check bot actions tests
	@# The imports of bot/ and actions/ form no cycle, not even through a function-level or
	@# TYPE_CHECKING import (tests/import_cycles.py prints each cycle with its files and lines).
	@$(PY) -m tests.import_cycles
	@# Types of bot/ and actions/ as pyproject.toml's [tool.mypy] says (cache in var/mypy_cache).
	@$(PY) -m mypy
	@# Responses uttered only by custom actions show up as "not used" warnings; the test
	@# tests/test_rasa_cli.py::test_rasa_data_validate_is_clean fails on any other warning.
	@$(PY) -m pytest -q tests/test_rasa_cli.py -k validate
	@# No response in domain.yml, and no text an action sends, refuses without an alternative.
	@$(PY) -m pytest -q tests/bot/policies/test_guard.py -k "domain or actions_send"

eval: setup $(MODEL_STAMP)
	@$(PY) -m bot eval
	@echo "==> The conversation suite (tests/conversations), against the real servers"
	@$(PY) -m tests.conversations.runner || echo "==> Some conversations failed: reports/conversations.md lists them"

bench: setup
	@$(PY) bench/report.py
	@CX_CHROMIUM=$(CHROMIUM) $(PY) bench/console_push.py >/dev/null  # writes reports/console_push.md

# Known vulnerabilities in the pinned dependencies (requirements.lock), by pip-audit from a
# tool venv of its own under var/ (never .venv: its dependencies must not move our pins).
# It needs a vulnerability service: PyPI's JSON API (the default) or OSV (AUDIT_SERVICE=osv).
# --strict fails when a package could not be looked up, instead of printing "No known
# vulnerabilities found" for packages it never checked. Findings: reports/pip_audit.md.
AUDIT_VENV    := var/tools/pip-audit
AUDIT_SERVICE ?= pypi
.PHONY: audit
audit:
	@if [ ! -x $(AUDIT_VENV)/bin/pip-audit ]; then \
	  py=$$($(FIND_PYTHON)) || exit 1; \
	  echo "==> Installing pip-audit into $(AUDIT_VENV)"; \
	  "$$py" -m venv $(AUDIT_VENV) && \
	  $(AUDIT_VENV)/bin/pip install --quiet --disable-pip-version-check "pip-audit==2.10.1" || exit 1; \
	fi
	@$(AUDIT_VENV)/bin/pip-audit -r requirements.lock --no-deps --disable-pip --strict --desc \
	  --progress-spinner off --vulnerability-service $(AUDIT_SERVICE) \
	  || { echo "pip-audit failed: see above (no vulnerability service reachable means nothing was checked)." >&2; exit 1; }

clean:
	rm -rf models/*.tar.gz $(MODEL_STAMP) models/spacy
