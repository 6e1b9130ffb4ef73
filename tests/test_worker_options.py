"""Worker settings (issue 8): the runner and the GC thresholds are explicit; tests keep the sandbox."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from agents.merchant_support import Store
from core.config import ConfigError
from core.gc_tuning import DEFAULT_THRESHOLD, tune_gc
from core.worker_options import MAX_CACHED_WORKFLOWS, WORKFLOW_FAILURE_TYPES, worker_options
from tests.conftest import DEMO, scripted_provider, strict_worker
from worker import build_worker


def test_default_is_the_measured_choice_and_the_cache_holds_the_peak() -> None:
    options = worker_options({})
    assert isinstance(options["workflow_runner"], UnsandboxedWorkflowRunner)
    assert options["max_cached_workflows"] == MAX_CACHED_WORKFLOWS >= 500  # the 500-run bench fits


@pytest.mark.parametrize("value", ["sandboxed", " Sandboxed "])
def test_the_sandbox_can_be_chosen(value: str) -> None:
    runner = worker_options({"AGENT_WORKFLOW_RUNNER": value})["workflow_runner"]
    assert isinstance(runner, SandboxedWorkflowRunner)


def test_a_bad_runner_is_refused_with_its_name() -> None:
    with pytest.raises(ConfigError, match="AGENT_WORKFLOW_RUNNER='fast'"):
        worker_options({"AGENT_WORKFLOW_RUNNER": "fast"})


async def test_tests_run_production_options_made_strict(env: WorkflowEnvironment, tmp_path: Path) -> None:
    """build_worker starts from production's options; tests add the sandbox and replay every task,
    and keep production's failure rule (no test-only failure types that would hide a hang)."""
    store = Store.open(tmp_path)
    worker = build_worker(env.client, "tq-options", [DEMO], scripted_provider({}), {DEMO.name: store})
    production = worker.config()
    strict = strict_worker(env.client, "tq-options-strict", scripted_provider({}), store).config()
    assert isinstance(production.get("workflow_runner"), UnsandboxedWorkflowRunner)
    assert isinstance(strict.get("workflow_runner"), SandboxedWorkflowRunner)
    assert (production.get("max_cached_workflows"), strict.get("max_cached_workflows")) == (1000, 0)
    failure_types = production.get("workflow_failure_exception_types")
    assert failure_types == strict.get("workflow_failure_exception_types") == WORKFLOW_FAILURE_TYPES


# ── the worker process's garbage collector (core/gc_tuning.py) ─────────────


@pytest.fixture
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_the_worker_takes_the_measured_gc_thresholds_unless_told_otherwise(restore_gc: None) -> None:
    gc.set_threshold(700, 10, 10)
    assert tune_gc({}) == DEFAULT_THRESHOLD == gc.get_threshold()
    assert tune_gc({"AGENT_GC_THRESHOLD": " 20000, 5,5 "}) == (20000, 5, 5) == gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    assert tune_gc({"AGENT_GC_THRESHOLD": "default"}) == (700, 10, 10)  # Python's own, untouched


@pytest.mark.parametrize("value", ["fast", "1000,10", "0,10,10", "-5,10,10", "1000,10,10,10", "1e4,10,10"])
def test_a_bad_gc_threshold_is_refused_and_changes_nothing(value: str, restore_gc: None) -> None:
    before = gc.get_threshold()
    with pytest.raises(ConfigError, match="AGENT_GC_THRESHOLD="):
        tune_gc({"AGENT_GC_THRESHOLD": value})
    assert gc.get_threshold() == before


def test_the_worker_process_refuses_a_bad_gc_threshold_before_it_connects(tmp_path: Path) -> None:
    env = {**os.environ, "AGENT_GC_THRESHOLD": "lots", "TEMPORAL_ADDRESS": "127.0.0.1:1"}
    done = subprocess.run(
        [sys.executable, "worker.py"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert "worker: AGENT_GC_THRESHOLD='lots'" in done.stderr
