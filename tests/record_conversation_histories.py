"""Record the conversation histories added since tests/record_histories.py: run
`python -m tests.record_conversation_histories`. The same rules: recorded once, never re-recorded.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.llm.openai_provider import OpenAIProvider
from activities.llm.scripted import ScriptBook, ScriptedTransport
from client.conversations import ConversationClient
from core.agent import AgentEnv
from core.apps import opened_deps
from core.conversation import ConversationStatus
from core.models import DecideUpdate
from core.worker_options import worker_options
from tests.conftest import BIN, DEMO, SCRIPTED_URL, register_search_attributes
from worker import build_worker

HISTORIES = Path(__file__).parent / "histories"
# A refund in a conversation decided through the `decide` update, while the conversation publishes
# AgentStatus (patch conversation-publishes-status): awaiting_approval, then running again.
DECIDED = f"{DEMO.name}.conversation_decided_published"  # the thread id is the history's name


async def record_decided(env: WorkflowEnvironment) -> None:
    path = HISTORIES / f"{DECIDED}.json"
    if path.exists():
        return
    async with opened_deps([DEMO], AgentEnv(Path(tempfile.mkdtemp()))) as deps:
        queue = "record-conversation-decided"
        transport = ScriptedTransport(ScriptBook({}, DEMO.stand_in))
        provider = OpenAIProvider(SCRIPTED_URL, default_model="scripted", transport=transport)
        async with build_worker(env.client, queue, [DEMO], provider, deps, **worker_options({}, strict=True)):
            chats = ConversationClient(env.client, queue)
            opened = await chats.open(DECIDED, agent=DEMO.name, user_id="MID001", memo={"started_by": "api"})
            await chats.send(DECIDED, "Please look up payment pay_ABC124.")
            asked = await chats.send(DECIDED, "Refund that one, please.", wait=False)
            status = await _pending(chats)
            item = status.pending[0]
            decision = DecideUpdate(
                call_id=item.call_id, approver="bob", verdict="approve", args_sha256=item.args_sha256
            )
            await chats.decide(DECIDED, decision)
            await chats.await_reply(DECIDED, asked.message_id)
            await chats.close(DECIDED)
            result = await opened.result()
            history = await opened.fetch_history()
    path.write_text(history.to_json())
    print(f"{DECIDED}: {result.handled} messages, {len(history.events)} events")


async def _pending(chats: ConversationClient) -> ConversationStatus:
    for _ in range(600):
        status = await chats.status(DECIDED)
        if status.pending:
            return status
        await asyncio.sleep(0.05)
    raise RuntimeError("no approval became pending")


async def main() -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"), data_converter=pydantic_data_converter
    )
    await register_search_attributes(env.client)
    async with env:
        await record_decided(env)


if __name__ == "__main__":
    asyncio.run(main())
