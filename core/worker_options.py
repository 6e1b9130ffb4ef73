"""Worker settings chosen from bench/throughput.py (issue 8); the worker and the benches use the same.

AGENT_WORKFLOW_RUNNER=sandboxed|unsandboxed (default unsandboxed). Measured on 2 cores, 200 concurrent
8-turn runs, CPU of the worker per activity step: sandboxed 5.6–6.0 ms, sandboxed with our modules
passed through 5.1–5.9 ms, unsandboxed 4.0–4.1 ms, a bare Temporal workflow 3.8–3.9 ms. The sandbox
re-enters its importer and restricted builtins on every activation, which passing modules through does
not remove. With two cores shared by worker and server, that CPU is throughput (ours/bare 0.59–0.71
sandboxed vs 0.67–0.73 unsandboxed under load; 0.84 vs 0.58 in another run). Determinism is still
enforced where it is cheap to: every test runs the workflow in the sandbox with a cache of 0 (each
task replays), and replay tests run over the committed histories. Set `sandboxed` to trade the CPU
for the runtime check in production.
"""

from __future__ import annotations

import os
from typing import Any

from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from core.config import ConfigError

RUNNERS = ("sandboxed", "unsandboxed")
DEFAULT_RUNNER = "unsandboxed"
# At least the peak of concurrent runs: an evicted run replays its whole history on its next task.
MAX_CACHED_WORKFLOWS = 1000


def worker_options(env: dict[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for build_worker; ConfigError names a bad AGENT_WORKFLOW_RUNNER."""
    env = dict(os.environ) if env is None else env
    runner = env.get("AGENT_WORKFLOW_RUNNER", DEFAULT_RUNNER).strip().lower() or DEFAULT_RUNNER
    if runner not in RUNNERS:
        raise ConfigError(f"AGENT_WORKFLOW_RUNNER={runner!r}: expected one of {', '.join(RUNNERS)}")
    return {
        "workflow_runner": UnsandboxedWorkflowRunner()
        if runner == "unsandboxed"
        else SandboxedWorkflowRunner(),
        "max_cached_workflows": MAX_CACHED_WORKFLOWS,
    }
