"""The worker's options, one factory for production, the benches and the tests.

Failures in workflow code follow one rule, set here (`workflow_failure_exception_types`):
- An error of our taxonomy (core/errors.py) is a decision about the run: a price nobody knows, an
  input no retry can fix. The loop ends the run with a typed FAILED result naming the class and its
  message (workflows/agent.py); one that escapes a handler fails the workflow execution, visibly.
  Either way it never fails the workflow *task*: a task failure is retried by the server forever, and
  the run would hang in silence, as a hosted model with no price once made every run do.
- Anything else (non-determinism, a sandbox violation, a programming error) is a bug in the worker's
  code: failing the task keeps the run where it was, so a fixed worker can carry it on.
Tests run with these options too; they add only checks (the sandbox, a cache of 0 so every task
replays) and detect a failing task at once instead of waiting on it (tests/conftest.py).

AGENT_WORKFLOW_RUNNER=sandboxed|unsandboxed (default unsandboxed), chosen from bench/throughput.py:
on 2 cores, 200 concurrent 8-turn runs, the worker's CPU per activity step was sandboxed 5.6–6.0 ms,
with our modules passed through 5.1–5.9 ms, unsandboxed 4.0–4.1 ms, a bare Temporal workflow 3.8–3.9
ms. The sandbox re-enters its importer and restricted builtins on every activation, which passing
modules through does not remove. With two cores shared by worker and server, that CPU is throughput.
Determinism is still enforced where it is cheap to: every test runs the workflow in the sandbox with
a cache of 0, and replay tests run over the committed histories. Set `sandboxed` to trade the CPU
for the runtime check in production.
"""

from __future__ import annotations

import os
from typing import Any

from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from core.config import ConfigError
from core.errors import AgentError

RUNNERS = ("sandboxed", "unsandboxed")
DEFAULT_RUNNER = "unsandboxed"
# At least the peak of concurrent runs: an evicted run replays its whole history on its next task.
MAX_CACHED_WORKFLOWS = 1000
# See the module docstring: our taxonomy fails the run (typed), everything else fails the task.
WORKFLOW_FAILURE_TYPES: tuple[type[BaseException], ...] = (AgentError,)


def worker_options(env: dict[str, str] | None = None, *, strict: bool = False) -> dict[str, Any]:
    """Keyword arguments for build_worker; ConfigError names a bad AGENT_WORKFLOW_RUNNER.

    `strict=True` is what tests use: the same failure rule, plus the sandbox and no cache, so every
    workflow task replays from history and a non-deterministic change fails at once.
    """
    env = dict(os.environ) if env is None else env
    runner = env.get("AGENT_WORKFLOW_RUNNER", DEFAULT_RUNNER).strip().lower() or DEFAULT_RUNNER
    if runner not in RUNNERS:
        raise ConfigError(f"AGENT_WORKFLOW_RUNNER={runner!r}: expected one of {', '.join(RUNNERS)}")
    sandboxed = strict or runner == "sandboxed"
    return {
        "workflow_runner": SandboxedWorkflowRunner() if sandboxed else UnsandboxedWorkflowRunner(),
        "max_cached_workflows": 0 if strict else MAX_CACHED_WORKFLOWS,
        "workflow_failure_exception_types": WORKFLOW_FAILURE_TYPES,
    }
