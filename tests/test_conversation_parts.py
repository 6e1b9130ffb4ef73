"""The conversation's pure parts: bounded memory that keeps ids exact, the inbox (queue, merge, never
twice), the tool-result cache (TTL, bounded, stale after a write) and its declaration on tools."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from core.conversation import NEW_MESSAGE, ConversationPolicy, Exchange, MessageReply, ReplyStatus
from core.function_tools import tool
from core.models import RunState, ToolCallRecord, ToolOutcome
from core.toolspec import ToolContext, ToolSpec
from workflows.conversation_memory import ConversationMemory, find_ids
from workflows.inbox import Inbox, merged_text
from workflows.tool_cache import MAX_ENTRIES, ToolCache

NOW = datetime(2026, 12, 1, tzinfo=UTC)
IDS = (r"\bac_[0-9]+\b", r"(?<![\w.])\d+\.\d{2}(?!\w)")


class _Out(BaseModel):
    value: str


async def _handler(ctx: ToolContext[None], args: BaseModel) -> BaseModel:
    return _Out(value="x")


def _spec(name: str = "lookup", **options: Any) -> ToolSpec:
    return ToolSpec(name=name, description="d", args_model=_Out, handler=_handler, **options)


def _record(observation: str = '{"ok": true}') -> ToolCallRecord:
    return ToolCallRecord(
        call_id="t1-1", turn=1, tool="lookup", args={}, outcome=ToolOutcome.OK, observation=observation
    )


def test_memory_stays_bounded_and_keeps_the_newest_ids_exact() -> None:
    policy = ConversationPolicy(recent_exchanges=3, summary_chars=600, kept_ids=5)
    memory = ConversationMemory(policy)
    for n in range(200):
        text = f"about ac_{n} for 12.{n % 90 + 10:02d}"
        ids = find_ids([text], IDS)
        memory.add(
            Exchange(
                message_ids=(f"m{n}",),
                user=text,
                assistant=f"done ac_{n}",
                outcome=RunState.COMPLETED,
                ids=ids,
            )
        )
    prompt = memory.render("and the next one?")
    assert len(memory.recent) == 3 and len(memory.summary) <= 600
    assert memory.kept_ids[-1] == "12.29" and "ac_199" in memory.kept_ids and len(memory.kept_ids) == 5
    assert prompt.endswith(f"{NEW_MESSAGE}\nand the next one?") and "ac_197" in prompt
    assert len(prompt) < 3000 and memory.first_message == "about ac_0 for 12.10"


def test_inbox_queues_merges_and_never_takes_a_message_twice() -> None:
    inbox = Inbox()
    first, second = inbox.add("a", None), inbox.add("b", None)
    assert inbox.add("b again", second) == second and len(inbox.queued) == 2  # a known id is not queued
    assert [q.message_id for q in inbox.take("queue")] == [first] and inbox.busy == (first,)
    inbox.answer(MessageReply(message_id=first, status=ReplyStatus.ANSWERED, answer="A"), [inbox.queued[0]])
    third = inbox.add("c", "client-1")
    batch = inbox.take("merge")
    assert [q.message_id for q in batch] == [second, third] and inbox.queued == []
    assert merged_text(batch) == "(1) b\n\n(2) c"
    inbox.answer(MessageReply(message_id=second, status=ReplyStatus.ANSWERED, answer="BC"), batch)
    assert inbox.answers[third].merged_with == (second,) and inbox.answers[third].answer == "BC"
    assert inbox.take("queue") == []


def test_cache_answers_within_ttl_and_a_write_makes_reads_stale() -> None:
    cache, spec = ToolCache(), _spec(cache_ttl_s=60)
    cache.put(spec, {"id": "ac_1"}, _record("one"), NOW)
    cache.put(spec, {"id": "ac_2"}, _record("two"), NOW)
    hit = cache.get("lookup", {"id": "ac_1"}, NOW + timedelta(seconds=59))
    assert hit is not None and hit.observation == "one" and cache.hits == 1
    assert cache.get("lookup", {"id": "ac_1"}, NOW + timedelta(seconds=60)) is None  # expired
    assert cache.get("lookup", {"id": "ac_3"}, NOW) is None
    assert cache.invalidate({"target": "ac_2", "note": "x"}) == 1
    assert cache.get("lookup", {"id": "ac_2"}, NOW) is None and len(cache) == 1
    assert cache.carried(NOW + timedelta(seconds=61)) == ()


def test_cache_is_bounded_and_an_uncacheable_tool_is_never_stored() -> None:
    cache = ToolCache()
    for n in range(MAX_ENTRIES + 10):
        cache.put(_spec(cache_ttl_s=60), {"id": str(n)}, _record(), NOW)
    cache.put(_spec("other"), {"id": "x"}, _record(), NOW)
    assert len(cache) == MAX_ENTRIES and cache.get("lookup", {"id": "0"}, NOW) is None
    assert cache.get("other", {"id": "x"}, NOW) is None


@pytest.mark.parametrize("effect", [{"irreversible": True}, {"side_effect": True}])
def test_a_tool_with_side_effects_cannot_be_declared_cacheable(effect: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="never cached"):
        _spec(cache_ttl_s=60, **effect)
    with pytest.raises(ValueError, match="cache_ttl_s"):
        _spec(cache_ttl_s=0)


def test_a_function_tool_declares_its_ttl() -> None:
    @tool(cache_ttl_s=120)
    async def find(ctx: ToolContext[None], key: str) -> _Out:
        """Find a thing by key.

        Args:
            key: The key.
        """
        return _Out(value=key)

    assert find.cache_ttl_s == 120 and not find.side_effect
