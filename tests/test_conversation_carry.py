"""Continue-as-new of a conversation, by history bytes: nothing queued is lost or answered twice, the
summary, recent exchanges and cache cross over, and the committed conversation history replays."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from agents.merchant_support import Store
from core.conversation import ReplyStatus
from tests.conftest import DEMO, DEMO_AGENTS
from tests.conversation_support import chain, chat_worker, history_bytes, scheduled, thread, within
from tests.history_facts import scheduled_activities
from worker import build_replayer

THRESHOLD = 20_000
RECORDED = Path(__file__).parent / "histories" / "merchant_support.conversation_followups.json"


async def test_continue_as_new_at_the_size_threshold_loses_no_queued_message(
    env: WorkflowEnvironment, store: Store
) -> None:
    thread_id = thread()
    payments = [f"pay_ABC12{n}" for n in range(3, 10)]
    async with chat_worker(env, store) as chat:
        chats = chat.chats
        opened = await chats.open(
            thread_id, agent=DEMO.name, user_id="MID001", history_bytes_per_run=THRESHOLD
        )
        one_by_one = [await within(chats.send(thread_id, f"Look up {p}.")) for p in payments]
        burst = await within(
            asyncio.gather(*(chats.send(thread_id, f"Look up {p} again.") for p in payments))
        )
        status = await chats.status(thread_id)
        await chats.close(thread_id)
        result = await within(opened.result())
        histories = await chain(env.client, thread_id, opened.first_execution_run_id)
    for reply, payment in zip([*one_by_one, *burst], [*payments, *payments], strict=True):
        assert reply.status == ReplyStatus.ANSWERED and payment in reply.answer
    assert len(histories) >= 3 and result.runs == len(histories) and status.run > 1
    assert result.handled == 2 * len(payments)
    # Every message handled once: two model calls for each (look up, answer), however many runs.
    assert scheduled(histories).count("llm.complete") == 2 * 2 * len(payments)
    # The burst's lookups were cached in an earlier run: the cache crossed over with the carry.
    assert sum(r.cached_calls for r in burst) >= 1
    assert scheduled(histories).count("tool.merchant_support.get_transaction") < 2 * len(payments)
    for finished in histories[:-1]:  # each handed over once past the threshold, well before twice it
        assert THRESHOLD * 0.8 <= history_bytes(finished) <= THRESHOLD * 2
    assert "pay_ABC" in status.summary and status.recent <= DEMO.conversation.recent_exchanges


def _recorded() -> WorkflowHistory:
    return WorkflowHistory.from_json(RECORDED.stem, RECORDED.read_text())


async def test_the_recorded_conversation_replays_and_ran_each_lookup_once() -> None:
    history = _recorded()
    replayer = build_replayer(DEMO_AGENTS, pydantic_data_converter)
    replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None
    activities = scheduled_activities(history)
    assert activities.count("tool.merchant_support.get_transaction") == 1
    assert activities.count("tool.merchant_support.get_merchant_account") == 1
    assert activities.count("tool.merchant_support.initiate_refund") == 1
