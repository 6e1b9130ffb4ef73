"""Worker settings (issue 8): the runner is an explicit choice, and tests keep the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.tools.store import Store
from core.config import ConfigError
from core.worker_options import MAX_CACHED_WORKFLOWS, worker_options
from tests.conftest import scripted_provider
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


async def test_the_test_harness_worker_stays_sandboxed(env: WorkflowEnvironment, tmp_path: Path) -> None:
    """build_worker adds no runner: tests get the SDK's sandbox, so a determinism bug still fails them."""
    worker = build_worker(env.client, "tq-options", scripted_provider({}), Store.open(tmp_path))
    assert isinstance(worker.config().get("workflow_runner"), SandboxedWorkflowRunner)
