"""Batches: one run fans out over N items, each an AgentWorkflow child, at most K at a time.

Each item ends resolved (its child completed) or escalated (any other end: a human's, a budget's, a
failure's); the parent counts them. Children have deterministic ids (`<batch id>/item-<n>`) and the
parent's progress is its history: a batch whose worker dies resumes on another where it was, and no
item is started twice or skipped.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.frozen import Frozen
from core.models import AgentLimits, RunState

MAX_ITEMS = 1_000


class BatchRequest(Frozen):
    items: tuple[str, ...] = Field(min_length=1, max_length=MAX_ITEMS)  # one task per item
    agent: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,47}$")
    user_id: str = Field("anonymous", min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@-]+$")
    max_concurrency: int = Field(5, ge=1, le=100)
    limits: AgentLimits | None = None  # every item's, over its agent's defaults


class BatchItem(Frozen):
    index: int
    workflow_id: str
    outcome: Literal["resolved", "escalated"]
    status: RunState
    answer: str = ""


class BatchResult(Frozen):
    items: tuple[BatchItem, ...]
    resolved: int
    escalated: int


class BatchProgress(Frozen):
    started: int
    done: int
    resolved: int
