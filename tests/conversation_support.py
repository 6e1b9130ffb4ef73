"""Helpers of the conversation tests: the production worker on a scripted model, and history facts
read across every run of a conversation (`chain`, `scheduled`: the bench's own)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from activities.llm.openai_provider import OpenAIProvider
from activities.llm.scripted import Policy, ScriptBook, ScriptedReply, ScriptedTransport
from activities.memory import EpisodeStore
from agents.merchant_support import Store
from bench.conversation_history import chain, scheduled
from client.conversations import ConversationClient
from core.agent import Agent
from core.models import PendingApproval
from core.worker_options import worker_options
from tests.conftest import DEMO, SCRIPTED_URL
from worker import build_worker

T = TypeVar("T")
__all__ = ["Chat", "chain", "chat_worker", "history_bytes", "scheduled", "thread", "wait_pending", "within"]


@dataclass
class Chat:
    chats: ConversationClient
    transport: ScriptedTransport
    queue: str


def thread() -> str:
    return f"thread-{uuid.uuid4().hex[:10]}"


@asynccontextmanager
async def chat_worker(
    env: WorkflowEnvironment,
    store: Store,
    *,
    agent: Agent[Any] = DEMO,
    memory: EpisodeStore | None = None,
    policy: Policy | None = None,
    scripts: dict[str, list[ScriptedReply]] | None = None,
) -> AsyncIterator[Chat]:
    """build_worker on the strict production options; the model is the agent's stand-in (or `policy`)."""
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    transport = ScriptedTransport(ScriptBook(scripts or {}, fallback=policy or agent.stand_in))
    provider = OpenAIProvider(SCRIPTED_URL, default_model="scripted", transport=transport)
    options = worker_options({}, strict=True)
    async with build_worker(
        env.client, queue, [agent], provider, {agent.name: store}, memory=memory, **options
    ):
        yield Chat(ConversationClient(env.client, queue), transport, queue)


async def within(step: Awaitable[T], seconds: float = 60) -> T:
    """A step of a test that must finish: a hung update fails the test instead of hanging it."""
    return await asyncio.wait_for(step, seconds)


async def wait_pending(chats: ConversationClient, thread_id: str) -> PendingApproval:
    for _ in range(400):
        status = await chats.status(thread_id)
        if status.pending:
            return status.pending[0]
        await asyncio.sleep(0.05)
    raise AssertionError("no approval became pending")


def history_bytes(history: WorkflowHistory) -> int:
    return sum(event.ByteSize() for event in history.events)
