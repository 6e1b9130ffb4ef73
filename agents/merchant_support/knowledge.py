"""The policy documents as a knowledge collection: BM25 over kb_fts, MiniLM vectors, or both fused.

DEFAULT_MODE is whichever ranking scored best on tests/data/kb_recall_queries.json (`make bench-recall`).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from activities.knowledge import KnowledgeIndex
from agents.merchant_support import queries as q
from agents.merchant_support.store import Store
from core.knowledge import Passage, Ranked, RetrievalMode

COLLECTION = "kb_docs"
DEFAULT_MODE = RetrievalMode.EMBEDDING
SNIPPET_WORDS = 24


def passages(conn: sqlite3.Connection) -> list[Passage]:
    rows = conn.execute("SELECT id, title, body FROM kb_docs ORDER BY id").fetchall()
    return [Passage(doc_id=r["id"], text=f"{r['title']}. {r['body']}") for r in rows]


def keyword(conn: sqlite3.Connection, query: str, limit: int) -> list[Ranked]:
    return [Ranked(doc_id=h["doc_id"], score=h["score"]) for h in q.search_kb(conn, query, limit)]


def index(store: Store) -> KnowledgeIndex:
    return KnowledgeIndex(store, COLLECTION, passages, keyword)


def hits(conn: sqlite3.Connection, ranked: list[Ranked]) -> list[dict[str, Any]]:
    """Title and the body's opening words of each ranked document, in rank order."""
    out = []
    for r in ranked:
        row = conn.execute("SELECT title, body FROM kb_docs WHERE id = ?", (r.doc_id,)).fetchone()
        if row is None:
            continue
        words = row["body"].split()
        snippet = " ".join(words[:SNIPPET_WORDS]) + ("…" if len(words) > SNIPPET_WORDS else "")
        out.append({"doc_id": r.doc_id, "title": row["title"], "snippet": snippet, "score": r.score})
    return out


async def search(
    store: Store, query: str, limit: int, mode: RetrievalMode = DEFAULT_MODE
) -> list[dict[str, Any]]:
    if mode is RetrievalMode.BM25:  # keeps FTS5's own snippet of the matching passage
        return await store.read(lambda conn: q.search_kb(conn, query, limit))
    ranked = await index(store).search(query, limit, mode)
    return await store.read(lambda conn: hits(conn, ranked))
