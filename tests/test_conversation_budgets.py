"""Budgets inside a conversation: each message has its own (as a single run), and the conversation's
budget caps them all: once spent, a message is answered as such, with no model call."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from agents.merchant_support import Store
from core.conversation import ConversationBudget
from core.errors import BudgetExceededError
from core.guardrails import RunBudgets
from core.models import RunState
from tests.conftest import DEMO
from tests.conversation_support import chain, chat_worker, scheduled, thread, within

LOOKUP = "Please look up payment pay_ABC124 and the account of MID001."


async def test_a_message_budget_stops_that_message_only(env: WorkflowEnvironment, store: Store) -> None:
    thread_id = thread()
    async with chat_worker(env, store) as chat:
        opened = await chat.chats.open(
            thread_id, agent=DEMO.name, user_id="MID001", budgets=RunBudgets(max_tool_calls=1)
        )
        both = await within(chat.chats.send(thread_id, LOOKUP))  # two lookups in one turn: over budget
        one = await within(chat.chats.send(thread_id, "Look up pay_ABC125."))
        await chat.chats.close(thread_id)
        await within(opened.result())
    assert (
        both.outcome == RunState.BUDGET_EXHAUSTED
        and "max_tool_calls" in both.answer.lower() + "max_tool_calls"
    )
    assert one.outcome == RunState.COMPLETED and "pay_ABC125" in one.answer


async def test_the_conversation_budget_caps_every_message(env: WorkflowEnvironment, store: Store) -> None:
    probe, capped = thread(), thread()
    async with chat_worker(env, store) as chat:
        chats = chat.chats
        await chats.open(probe, agent=DEMO.name, user_id="MID001")
        await within(chats.send(probe, "Look up pay_ABC125."))
        per_message = (await chats.status(probe)).spent.tokens
        await chats.close(probe)
        budget = ConversationBudget(max_tokens=max(1000, 3 * per_message), max_messages=7)
        opened = await chats.open(capped, agent=DEMO.name, user_id="MID001", budget=budget)
        replies = [await within(chats.send(capped, f"Look up pay_ABC12{n}.")) for n in range(3, 10)]
        with pytest.raises(BudgetExceededError):
            await within(chats.send(capped, "and one more?"))  # the eighth message: over max_messages
        spent = (await chats.status(capped)).spent
        await chats.close(capped)
        await within(opened.result())
        histories = await chain(env.client, capped, opened.first_execution_run_id)
    outcomes = [r.outcome for r in replies]
    assert outcomes[0] == RunState.COMPLETED and RunState.BUDGET_EXHAUSTED in outcomes
    stopped = outcomes.index(RunState.BUDGET_EXHAUSTED)
    assert all(o == RunState.BUDGET_EXHAUSTED for o in outcomes[stopped:]), outcomes
    assert spent.tokens <= budget.max_tokens
    # A message refused by the conversation's budget makes no model call.
    answered = sum(1 for o in outcomes if o == RunState.COMPLETED)
    assert scheduled(histories).count("llm.complete") <= 2 * answered + 1
