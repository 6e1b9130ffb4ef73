"""An agent defined outside the runtime (tests/outside_agent.py), served through AGENT_APPS alone."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.llm.openai_provider import OpenAIProvider
from activities.llm.scripted import ScriptBook, ScriptedReply, ScriptedToolCall, ScriptedTransport
from client import AgentClient
from core.agent import AgentEnv
from core.apps import opened_deps
from core.models import AgentRequest, ApproveSignal, RunState
from core.worker_options import worker_options
from tests.conftest import SCRIPTED_URL, result_or_task_failure
from tests.test_agent_workflow import wait_for_pending
from worker import build_worker, served_agents

TASK = "Please renew my loan LN-101."
SCRIPT = [
    ScriptedReply(tool_calls=[ScriptedToolCall(name="get_loan", arguments={"loan_id": "LN-101"})]),
    ScriptedReply(tool_calls=[ScriptedToolCall(name="renew_loan", arguments={"loan_id": "LN-101"})]),
    ScriptedReply(content="Renewed LN-101 (rn_t2-1): Dune is now due on 2026-12-24."),
]


async def test_an_outside_agent_runs_end_to_end_with_its_approval(
    env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_APPS", "tests.outside_agent:AGENT")
    agents = served_agents()
    assert [a.name for a in agents] == ["loans_desk"]
    transport = ScriptedTransport(ScriptBook({"LN-101": SCRIPT}))
    provider = OpenAIProvider(SCRIPTED_URL, default_model="scripted", transport=transport)
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with opened_deps(agents, AgentEnv(tmp_path)) as deps:
        store = deps["loans_desk"]
        options = worker_options({}, strict=True)
        async with build_worker(env.client, queue, agents, provider, deps, **options):
            runs = AgentClient(env.client, queue)
            handle = await runs.start(AgentRequest(task=TASK, agent="loans_desk"))
            pending = (await wait_for_pending(handle)).pending[0]
            assert (pending.tool, pending.args) == ("renew_loan", {"loan_id": "LN-101"})
            assert await store.count("renewals") == 0  # nothing happens before the librarian says so
            approval = ApproveSignal(
                call_id=pending.call_id, approver="librarian", args_sha256=pending.args_sha256
            )
            await runs.approve(handle, approval)
            result = await result_or_task_failure(handle)
        assert await store.count("renewals") == 1
    assert (result.status, result.agent) == (RunState.COMPLETED, "loans_desk")
    assert "rn_t2-1" in result.answer and result.tool_calls[1].approved_by == "librarian"
    body = transport.requests[0]
    assert body["messages"][0]["content"].startswith("You help library members")
    assert body["messages"][1]["content"] == f"Member's request: {TASK}"
    assert [t["function"]["name"] for t in body["tools"]] == ["get_loan", "renew_loan"]
