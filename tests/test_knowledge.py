"""Semantic memory: vectors stored once in SQLite, the rankings, and the knowledge tool on the worker."""

from __future__ import annotations

import asyncio
import json

from activities.knowledge import reciprocal_rank_fusion
from activities.llm.scripted import ScriptedReply, ScriptedToolCall
from agents.merchant_support import Store
from agents.merchant_support import knowledge as kb
from core.knowledge import Ranked, RetrievalMode
from core.models import ToolOutcome
from tests.conftest import Harness

PARAPHRASE = "how much do you take from each transaction"  # KB-007, processing fees


def ids(hits: list[dict[str, object]]) -> list[object]:
    return [h["doc_id"] for h in hits]


async def test_each_vector_is_stored_once_across_retries_and_reseeding(store: Store) -> None:
    first = await kb.index(store).refresh()
    assert first == 8 and await store.count("knowledge_vectors") == 8
    # A retried activity, two workers at once, a store opened (and its seed checked) again.
    again = await asyncio.gather(kb.index(store).refresh(), kb.index(store).refresh())
    reopened = await kb.index(Store.open(store.path.parent)).refresh()
    assert [*again, reopened] == [0, 0, 0]
    assert await store.count("knowledge_vectors") == 8


async def test_a_changed_document_is_embedded_again_in_place(store: Store) -> None:
    await kb.index(store).refresh()
    await store.write(lambda c: c.execute("UPDATE kb_docs SET body = 'Fees are waived.' WHERE id = 'KB-007'"))
    assert await kb.index(store).refresh() == 1
    assert await store.count("knowledge_vectors") == 8


async def test_a_paraphrase_finds_the_article_bm25_misses(store: Store) -> None:
    assert "KB-007" not in ids(await kb.search(store, PARAPHRASE, 3, RetrievalMode.BM25))
    assert ids(await kb.search(store, PARAPHRASE, 3, RetrievalMode.EMBEDDING))[0] == "KB-007"
    typo = await kb.search(store, "duplcate chrage", 3, RetrievalMode.EMBEDDING)
    assert ids(typo)[0] == "KB-001" and await kb.search(store, "duplcate chrage", 3, RetrievalMode.BM25) == []


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    keyword = [Ranked(doc_id="a", score=9.0), Ranked(doc_id="b", score=5.0)]
    semantic = [Ranked(doc_id="b", score=0.9), Ranked(doc_id="c", score=0.8)]
    fused = reciprocal_rank_fusion([keyword, semantic], 3)
    assert [r.doc_id for r in fused] == ["b", "a", "c"]


async def test_the_tool_on_the_worker_uses_the_default_mode(harness: Harness) -> None:
    assert kb.DEFAULT_MODE is RetrievalMode.EMBEDDING
    search = ScriptedToolCall(name="search_knowledge_base", arguments={"query": PARAPHRASE})
    script = [ScriptedReply(tool_calls=[search]), ScriptedReply(content="Fees: 2.9% plus 0.30.")]
    result, history = await harness.run("what are the fees", script)
    (record,) = [r for r in result.tool_calls if r.tool == "search_knowledge_base"]
    assert record.outcome == ToolOutcome.OK
    assert record.result["results"][0]["doc_id"] == "KB-007"
    # Vectors live in the store, not in history: no 384-float list in any event.
    assert await harness.store.count("knowledge_vectors") == 8
    assert all(len(json.dumps(str(e))) < 20_000 for e in history.events)
