"""The README's "Build your own agent" snippet, exactly as written, served with AGENT_APPS and run."""

from __future__ import annotations

import re
import shlex
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.llm.openai_provider import OpenAIProvider
from activities.llm.scripted import ScriptBook, ScriptedReply, ScriptedToolCall, ScriptedTransport
from cli.main import build_parser
from cli.runs import build_request
from client import AgentClient
from core.agent import AgentEnv
from core.apps import opened_deps
from core.models import ApproveSignal, RunState
from core.worker_options import worker_options
from tests.conftest import SCRIPTED_URL, result_or_task_failure
from tests.test_agent_workflow import wait_for_pending
from worker import build_worker, served_agents

README = Path(__file__).resolve().parents[1] / "README.md"


def snippet() -> tuple[str, str, list[str]]:
    """(module path, code, the two commands) of the README section."""
    text = README.read_text()
    code = re.search(r"<!-- agent-example -->\n```python\n(.*?)```", text, re.S)
    commands = re.search(r"run it by name:\n\n```sh\n(.*?)```", text, re.S)
    assert code and commands, "the README lost its agent example"
    module = code.group(1).splitlines()[0].removeprefix("# ").strip()
    return module, code.group(1), commands.group(1).strip().splitlines()


def test_the_snippet_is_about_forty_lines() -> None:
    _, code, _ = snippet()
    assert 30 <= len(code.splitlines()) <= 65


async def test_the_readme_agent_runs_as_written(
    env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, code, (serve, start) = snippet()
    package = tmp_path / Path(module).parent
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (tmp_path / module).write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    apps = re.search(r"AGENT_APPS=(\S+)", serve)
    assert apps is not None
    monkeypatch.setenv("AGENT_APPS", apps.group(1))
    agents = served_agents()
    assert [a.name for a in agents] == ["travel_desk", "merchant_support"]
    args = build_parser().parse_args(shlex.split(start)[2:])  # `starter.py run …` as the README has it
    script = [
        ScriptedReply(tool_calls=[ScriptedToolCall(name="quote_fare", arguments={"city": "paris"})]),
        ScriptedReply(tool_calls=[ScriptedToolCall(name="book_ticket", arguments={"city": "paris"})]),
        ScriptedReply(content="Booked bk_1: one ticket to Paris for 89.00 EUR."),
    ]
    provider = OpenAIProvider(
        SCRIPTED_URL, default_model="scripted", transport=ScriptedTransport(ScriptBook({"Paris": script}))
    )
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with (
        opened_deps(agents, AgentEnv(tmp_path / "data")) as deps,
        build_worker(env.client, queue, agents, provider, deps, **worker_options({}, strict=True)),
    ):
        runs = AgentClient(env.client, queue)
        handle = await runs.start(build_request(args.task, args.user, args.agent))
        pending = (await wait_for_pending(handle)).pending[0]
        assert (pending.tool, pending.args) == ("book_ticket", {"city": "paris"})
        sha = pending.args_sha256
        await runs.approve(handle, ApproveSignal(call_id=pending.call_id, approver="ana", args_sha256=sha))
        result = await result_or_task_failure(handle)
    assert (result.status, result.agent) == (RunState.COMPLETED, "travel_desk")
    assert [c.tool for c in result.tool_calls] == ["quote_fare", "book_ticket"]
    assert result.tool_calls[1].result == {"booking_id": "bk_1", "city": "paris"}
