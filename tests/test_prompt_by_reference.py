"""The agent's system prompt and tool schemas go to llm.complete by reference; the model sees them whole."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.exceptions import ApplicationError

from activities.llm.activity import LlmActivities
from activities.llm.expand import expanded
from activities.llm.openai_provider import OpenAIProvider
from activities.llm.scripted import ScriptBook, ScriptedReply, ScriptedToolCall, ScriptedTransport
from core.agent import Agent, Instructions
from core.errors import InvalidInputError
from core.llm import ToolCall
from core.models import AgentResult, ChatMessage, LlmRequest, RunState
from tests.conftest import DEMO, SCRIPTED_URL, Harness
from tests.test_agent_workflow import REFUND, answer, approve_as_alice, calls
from workflows.observations import failure, succeeded, success

AGENTS = {DEMO.name: DEMO}
SYSTEM = DEMO.instructions.text() or ""


def llm_inputs(history: WorkflowHistory) -> list[dict[str, object]]:
    return [
        json.loads(e.activity_task_scheduled_event_attributes.input.payloads[0].data)
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "llm.complete"
    ]


def slim(**overrides: object) -> LlmRequest:
    fields: dict[str, object] = {
        "workflow_id": "w",
        "turn": 1,
        "messages": (ChatMessage(role="user", content="hi"),),
        "prompt_version": DEMO.instructions.current,
        "agent": DEMO.name,
        "tools_of_agent": True,
        "system_by_version": True,
    }
    return LlmRequest.model_validate({**fields, **overrides})


def test_expanded_puts_back_the_versions_system_prompt_and_the_agents_schemas() -> None:
    full = expanded(slim(), AGENTS)
    assert [m.role for m in full.messages] == ["system", "user"]
    assert full.messages[0].content == SYSTEM
    assert full.tools == DEMO.schemas and not full.system_by_version and not full.tools_of_agent
    inline = LlmRequest(workflow_id="w", turn=1, messages=full.messages, prompt_version="old-v1")
    assert expanded(inline, AGENTS) is inline  # a request that carries everything itself


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"agent": "nope"}, "unknown agent 'nope'"),
        ({"prompt_version": "v0"}, "has no prompt version 'v0'"),
    ],
)
async def test_an_unknown_reference_is_a_final_invalid_input_error(
    overrides: dict[str, object], named: str
) -> None:
    with pytest.raises(InvalidInputError, match=named):
        expanded(slim(**overrides), AGENTS)
    provider = OpenAIProvider("http://scripted.invalid/v1", default_model="scripted")
    with pytest.raises(ApplicationError) as caught:
        await LlmActivities(provider, AGENTS).complete(slim(**overrides))
    await provider.aclose()
    assert caught.value.type == "InvalidInputError" and caught.value.non_retryable
    assert named in caught.value.message


async def test_history_keeps_neither_the_system_prompt_nor_the_schemas_but_the_model_gets_both(
    harness: Harness,
) -> None:
    task = "refund pay_1 please"
    lookup = ScriptedToolCall(name="get_transaction", arguments={"transaction_id": "pay_1"})
    script = [
        ScriptedReply(tool_calls=[lookup]),
        ScriptedReply(content="Payment pay_1 was found."),
    ]
    transport = ScriptedTransport(ScriptBook({task: script}))
    provider = OpenAIProvider(SCRIPTED_URL, default_model="scripted", transport=transport)
    result, history = await harness.run(task, script, provider=provider)
    assert isinstance(result, AgentResult) and result.status == RunState.COMPLETED
    inputs = llm_inputs(history)
    assert len(inputs) == 2
    for sent in inputs:
        assert sent["system_by_version"] is True and sent["tools_of_agent"] is True
        assert sent["agent"] == DEMO.name and sent["tools"] == []
        assert SYSTEM not in json.dumps(sent)
    seen = list(transport.requests)
    assert len(seen) == 2
    for body in seen:
        assert body["messages"][0] == {"role": "system", "content": SYSTEM}
        assert [t["function"]["name"] for t in body["tools"]] == [s.name for s in DEMO.schemas]


# ── after_action: the version's reminder once a call with side effects has succeeded ──────────────

REMINDER = "Answer now, in two sentences."


def with_reminder(reminder: str | None = REMINDER) -> dict[str, Agent[Any]]:
    version = dataclasses.replace(
        DEMO.instructions.version() or DEMO.instructions.versions[0], after_action=reminder
    )
    instructions = dataclasses.replace(
        DEMO.instructions, versions=(version,), current=version.version, channels=None
    )
    return {DEMO.name: dataclasses.replace(DEMO, instructions=instructions)}


def turn_after(tool: str, ok: bool) -> tuple[ChatMessage, ...]:
    result = (
        {"ok": True, "result": {"refund_id": "re_1"}}
        if ok
        else {"ok": False, "error": {"type": "InvalidInputError"}}
    )
    return (
        ChatMessage(role="user", content="refund pay_1"),
        ChatMessage(role="assistant", tool_calls=(ToolCall(id="t1-1", name=tool, arguments={}),)),
        ChatMessage(role="tool", content=json.dumps(result), tool_call_id="t1-1", name=tool),
    )


def test_the_reminder_follows_a_succeeded_call_with_side_effects_and_only_then() -> None:
    agents = with_reminder()
    for acted in ("initiate_refund", "create_support_ticket"):  # irreversible, side effect
        done = expanded(slim(messages=turn_after(acted, ok=True)), agents)
        assert done.messages[-1] == ChatMessage(role="user", content=REMINDER)
        assert done.messages[1:-1] == turn_after(acted, ok=True)  # nothing else moved
    for tool, ok in (("initiate_refund", False), ("get_transaction", True), ("search_knowledge_base", True)):
        assert expanded(slim(messages=turn_after(tool, ok)), agents).messages[-1].role == "tool", (tool, ok)
    # A refund of an earlier turn, with the model's reply since: that turn's answer is written.
    later = (*turn_after("initiate_refund", ok=True), ChatMessage(role="assistant", content="Done."))
    assert expanded(slim(messages=later), agents).messages[-1].role == "assistant"
    # A version without a reminder gets none.
    plain = expanded(slim(messages=turn_after("initiate_refund", ok=True)), with_reminder(None))
    assert plain.messages[-1].role == "tool"


def test_a_prompt_file_reads_its_reminder_and_refuses_an_unknown_header(tmp_path: Path) -> None:
    (tmp_path / "p-v1.md").write_text("changelog: first\nafter_action: Answer now.\n\nYou help.")
    version = Instructions.from_dir(tmp_path, current="p-v1").version()
    assert version is not None and (version.after_action, version.text) == ("Answer now.", "You help.")
    (tmp_path / "p-v1.md").write_text("changelog: first\nreminder: Answer now.\n\nYou help.")
    with pytest.raises(ValueError, match="after_action"):
        Instructions.from_dir(tmp_path, current="p-v1")


async def test_the_model_gets_the_reminder_after_an_approved_refund_and_history_never_holds_it(
    harness: Harness,
) -> None:
    task = "refund the duplicate of pay_ABC123"
    script = [calls(REFUND), answer("Refunded pay_ABC124.")]
    transport = ScriptedTransport(ScriptBook({task: script}))
    provider = OpenAIProvider(SCRIPTED_URL, default_model="scripted", transport=transport)
    result, history = await harness.run(task, script, provider=provider, during=approve_as_alice)
    assert result.status == RunState.COMPLETED
    reminder = (DEMO.instructions.version() or DEMO.instructions.versions[0]).after_action
    assert reminder, "the demo's current prompt version has an after_action reminder"
    last = [body["messages"][-1] for body in transport.requests]
    assert [m["role"] for m in last] == ["user", "user"] and last[1]["content"] == reminder
    assert all(reminder not in json.dumps(i) for i in llm_inputs(history))


def test_a_success_cut_to_the_observation_limit_still_counts_as_one() -> None:
    long = success({"refund_id": "re_1", "log": "x" * 10_000})
    assert not long.endswith("}") and succeeded(long)  # cut: no longer JSON
    assert not succeeded(failure("InvalidInputError", "no such payment"))
