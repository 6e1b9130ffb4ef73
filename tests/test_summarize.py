"""llm.summarize with the scripted model: a paraphrasing model can never lose an identifier."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.llm.scripted import ScriptedReply
from activities.llm.summarize import (
    FACTS_HEADER,
    SummarizeActivities,
    SummarizeRequest,
    keep_facts,
    required_facts,
)
from core.models import ChatMessage, ToolCall
from tests.conftest import DEMO, scripted_provider

KEY = "Previous summary"
REFUND = ToolCall(
    id="t2-1",
    name="initiate_refund",
    arguments={
        "transaction_id": "pay_B2",
        "amount": 49.99,
        "currency": "EUR",
        "reason": "duplicate of pay_A1",
    },
)
TURNS = (
    ChatMessage(
        role="assistant",
        content="Looking up pay_A1 for MID1001.",
        tool_calls=(ToolCall(id="t1-1", name="get_transaction", arguments={"transaction_id": "pay_A1"}),),
    ),
    ChatMessage(
        role="tool",
        content='{"ok": true, "result": {"id": "pay_A1", "amount": 49.99, "duplicates": ["pay_B2"]}}',
        tool_call_id="t1-1",
        name="get_transaction",
    ),
    ChatMessage(role="assistant", content="Refunding the duplicate.", tool_calls=(REFUND,)),
    ChatMessage(
        role="tool",
        content='{"ok": true, "result": {"refund_id": "re_9XY", "ticket": "tkt_77"}}',
        tool_call_id="t2-1",
        name="initiate_refund",
    ),
)


def activities(summary: str, **reply: object) -> SummarizeActivities:
    provider = scripted_provider({KEY: [ScriptedReply(content=summary, **reply)]})
    return SummarizeActivities(provider, {DEMO.name: DEMO})


def request(previous: str = "") -> SummarizeRequest:
    """The demo agent's identifiers (its keep_exact) are what a summary must keep."""
    return SummarizeRequest(workflow_id="wf-1", agent=DEMO.name, previous_summary=previous, turns=TURNS)


async def test_a_dropped_identifier_is_appended_verbatim() -> None:
    lossy = "The agent looked up the payment pay_A1 and refunded a duplicate charge (refund re_9XY)."
    result = await ActivityEnvironment().run(activities(lossy).summarize, request())
    assert result.summary.startswith(lossy)
    _, _, facts = result.summary.partition(FACTS_HEADER)
    for needed in (
        "pay_B2",
        "MID1001",
        "49.99",
        "tkt_77",
        "initiate_refund.currency=EUR",
        "duplicate of pay_A1",
    ):
        assert needed in facts
    assert "re_9XY" not in facts  # the model kept it: not repeated
    assert result.restored > 0 and result.usage.total > 0 and result.model == "scripted"


async def test_a_faithful_summary_is_left_alone() -> None:
    faithful = (
        "get_transaction(transaction_id=pay_A1) for MID1001 showed 49.99 with duplicate pay_B2; "
        "initiate_refund(transaction_id=pay_B2, amount=49.99, currency=EUR, reason=duplicate of pay_A1) "
        "gave refund re_9XY, ticket tkt_77; calls t1-1 and t2-1."
    )
    result = await activities(faithful).summarize(request())
    assert result.summary == faithful and result.restored == 0


async def test_facts_survive_a_fold_of_a_fold() -> None:
    first = await activities("Refunded a duplicate.").summarize(request())
    assert "pay_B2" in first.summary
    later = SummarizeRequest(workflow_id="wf-1", agent=DEMO.name, previous_summary=first.summary, turns=())
    second = await activities("Nothing new happened.").summarize(later)
    for fact in required_facts(first.summary, (), DEMO.keep_exact):
        assert fact in second.summary


async def test_a_provider_failure_is_one_error_class() -> None:
    with pytest.raises(ApplicationError) as caught:
        await activities("", status=401).summarize(request())
    assert caught.value.type == "AuthError" and caught.value.non_retryable


def test_keep_facts_is_pure_and_ordered() -> None:
    summary, restored = keep_facts("", "", TURNS, DEMO.keep_exact)
    assert summary.startswith(FACTS_HEADER) and restored == len(required_facts("", TURNS, DEMO.keep_exact))
    assert keep_facts("", "", TURNS, DEMO.keep_exact) == (summary, restored)
    assert summary.index("pay_A1") < summary.index("re_9XY")
    assert required_facts("refunded 49.99. Later 1.234 and v2.50x", (), DEMO.keep_exact) == ["49.99"]
    assert required_facts("refunded 49.99 for MID1001", ()) == []  # the engine keeps only call ids
