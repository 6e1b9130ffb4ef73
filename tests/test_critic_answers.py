"""The critic of a final answer (workflows/critic.py) in real runs: an irreversible action the answer
hides is stated under it, or sent back to the model once; an answer that states it is kept as written."""

from __future__ import annotations

import dataclasses
import json

from agents.merchant_support.domain import derived_id
from core.models import RunState
from tests.conftest import DEMO, Harness
from tests.history_facts import scheduled_activities
from tests.test_agent_workflow import REFUND, answer, approve_as_alice, calls

# The demo agent with a critic that gives the model one more try (the demo's states the facts at once).
SENDS_BACK = dataclasses.replace(DEMO, critic=dataclasses.replace(DEMO.critic, send_back=True))


async def test_critic_states_the_refund_under_an_answer_that_hides_it(harness: Harness) -> None:
    vague = answer("All sorted, nothing else to do.")
    result, history = await harness.run("vague answer", [calls(REFUND), vague], during=approve_as_alice)
    refund_id = json.loads(result.tool_calls[0].observation)["result"]["refund_id"]
    assert result.status == RunState.COMPLETED and result.turns == 2  # no turn spent on a second try
    assert result.answer.startswith("All sorted") and f"Actions taken: Refund {refund_id}" in result.answer
    assert scheduled_activities(history).count("llm.complete") == 2


async def test_critic_sends_back_an_answer_that_hides_the_refund(harness: Harness) -> None:
    vague = answer("All sorted, nothing else to do.")
    result, _ = await harness.run(
        "vague answers", [calls(REFUND), vague, vague], during=approve_as_alice, agent=SENDS_BACK
    )
    refund_id = json.loads(result.tool_calls[0].observation)["result"]["refund_id"]
    assert result.status == RunState.COMPLETED and result.turns == 3  # one extra turn for the critic
    assert result.answer.startswith("All sorted") and f"Refund {refund_id} of 49.99 USD" in result.answer


async def test_critic_accepts_an_answer_that_states_the_refund(harness: Harness) -> None:
    workflow_id = "critic-precise"
    refund_id = derived_id("re_", f"{workflow_id}:t1-1")  # refund ids derive from the idempotency key
    precise = answer(f"I refunded the duplicate: 49.99 USD, refund {refund_id}.")
    result, _ = await harness.run(
        "vague then precise",
        [calls(REFUND), answer("All sorted."), precise],
        during=approve_as_alice,
        workflow_id=workflow_id,
        agent=SENDS_BACK,
    )
    assert result.turns == 3 and result.answer == precise.content  # accepted as written, nothing appended
