"""The agent's system prompt and tool schemas go to llm.complete by reference; the model sees them whole."""

from __future__ import annotations

import json

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.exceptions import ApplicationError

from activities.llm.activity import LlmActivities
from activities.llm.expand import expanded
from activities.llm.openai_provider import OpenAIProvider
from activities.llm.scripted import ScriptBook, ScriptedReply, ScriptedToolCall, ScriptedTransport
from core.errors import InvalidInputError
from core.models import AgentResult, ChatMessage, LlmRequest, RunState
from tests.conftest import DEMO, SCRIPTED_URL, Harness

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
