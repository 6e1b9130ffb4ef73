"""Knowledge retrieval contracts: how a search ranks documents, what it ranks, what it returns.

    RetrievalMode   bm25 (the store's FTS5 ranking), embedding (cosine of sentence vectors), hybrid
    Passage         one document as it is embedded: its id and its text
    Ranked          one document of a ranking: its id and the score that placed it there

A search hands back ids and scores only; the vectors stay in the agent's store, never in a payload.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from core.frozen import Frozen


class RetrievalMode(StrEnum):
    BM25 = "bm25"
    EMBEDDING = "embedding"
    HYBRID = "hybrid"


class Passage(Frozen):
    doc_id: str = Field(min_length=1)
    text: str


class Ranked(Frozen):
    doc_id: str
    score: float


__all__ = ["Passage", "Ranked", "RetrievalMode"]
