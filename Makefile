# Two user-facing targets: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint services wheel-check clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fleetsignals demo

# Real services the tests talk to (Alertmanager, headless Chromium), from Debian.
services:
	@bash scripts/install-services.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint models macros --disable-progress-bar
	$(BIN)/python scripts/signals_lint_config.py --check
	$(BIN)/sqlfluff lint signals --config signals/sqlfluff.cfg --disable-progress-bar
	$(BIN)/sqlfluff lint ingest/sql --config ingest/sql/sqlfluff.cfg --disable-progress-bar

test: $(STAMP) services lint
	$(BIN)/pytest

# The wheel as a user installs it: a new venv, a small demo in an empty folder (CI runs it).
wheel-check: $(STAMP)
	bash scripts/check-wheel.sh $(BIN)/python

clean:
	rm -rf $(VENV) target logs warehouse
