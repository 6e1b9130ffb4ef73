"""Episodic memory: a closed conversation leaves one episode, the same user's next conversation reads
the last three in its prompt, and no other user ever sees them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.memory import EpisodeStore, MemoryActivities
from agents.merchant_support import Store
from core.conversation import Episode, EpisodeQuery
from tests.conftest import DEMO
from tests.conversation_support import Chat, chat_worker, thread, within

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def episode(n: int, user: str = "MID001", key: str | None = None) -> Episode:
    return Episode(
        key=key or f"t{n}:run",
        agent=DEMO.name,
        user_id=user,
        thread_id=f"t{n}",
        issue=f"issue {n}",
        resolution=f"resolution {n}",
        ids=(f"pay_{n}",),
        messages=1,
        closed_at=T0 + timedelta(hours=n),
    )


async def test_a_retried_write_stores_one_episode(tmp_path: Path) -> None:
    store = EpisodeStore.open(tmp_path / "memory.sqlite")
    activities = MemoryActivities(store)
    run = ActivityEnvironment().run
    first = await run(activities.write_episode, episode(1))
    again = await run(activities.write_episode, episode(1))
    assert (first.stored, again.stored, store.count()) == (True, False, 1)


def test_recall_is_the_users_newest_three_and_only_theirs(tmp_path: Path) -> None:
    store = EpisodeStore.open(tmp_path / "memory.sqlite")
    for n in range(1, 6):
        store.write(episode(n))
    store.write(episode(9, user="MID002"))
    recalled = store.recent(EpisodeQuery(agent=DEMO.name, user_id="MID001", limit=3))
    assert [e.thread_id for e in recalled] == ["t5", "t4", "t3"]
    others = store.recent(EpisodeQuery(agent=DEMO.name, user_id="MID002", limit=3))
    assert [e.user_id for e in others] == ["MID002"]
    assert store.recent(EpisodeQuery(agent="another_agent", user_id="MID001")) == ()


async def _talk(chat: Chat, user: str, text: str) -> str:
    thread_id = thread()
    opened = await chat.chats.open(thread_id, agent=DEMO.name, user_id=user)
    reply = await within(chat.chats.send(thread_id, text))
    await chat.chats.close(thread_id)
    result = await within(opened.result())
    assert result.episode_stored
    return reply.answer


async def test_the_next_conversation_remembers_and_another_user_does_not(
    env: WorkflowEnvironment, store: Store, tmp_path: Path
) -> None:
    memory = EpisodeStore.open(tmp_path / "memory.sqlite")
    async with chat_worker(env, store, memory=memory) as chat:
        first = await _talk(chat, "MID001", "Please look up payment pay_ABC124.")
        remembered = await _talk(chat, "MID001", "What did we talk about last time?")
        other = await _talk(chat, "MID002", "What did other merchants ask you?")
        prompts = [str(body["messages"]) for body in chat.transport.requests]
    assert "pay_ABC124" in first
    # The second conversation for MID001 starts with the first one's resolution in its prompt.
    assert "pay_ABC124" in remembered and "Last time" in remembered
    # MID002 asks about others: neither its prompt nor its answer holds anything of MID001's.
    assert "pay_ABC124" not in other and "MID001" not in other
    theirs = [p for p in prompts if "other merchants ask you" in p]
    assert theirs and all("pay_ABC124" not in p and "MID001" not in p for p in theirs)
    assert memory.count() == 3
