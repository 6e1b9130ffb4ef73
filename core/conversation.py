"""Conversation contracts: one ConversationWorkflow per thread, its messages, memory and errors.

    request  ConversationRequest (thread id = workflow id, the agent, whom it talks with)
    update   send_message(SendMessage) → MessageReply: the answer, or at once a message id (wait=False)
    update   await_reply(message id) → MessageReply: the answer of a message sent earlier
    signal   close(CloseSignal); the approve / deny / decide / human_reply / cancel of single runs
    query    status → ConversationStatus, progress(since) → ProgressPage
    result   ConversationResult, once closed (by signal or idle timeout); an Episode is stored

Errors a caller gets (each an InvalidInputError, so the taxonomy holds):
    ConversationClosedError   a message to a conversation that is closed or closing
    EmptyMessageError         a blank message
    MessageTooLargeError      a message over the agent's size limit (a PayloadTooLargeError)
    ThreadIdError             a thread id the stores cannot key (characters, length)
    ThreadIdTakenError        the id belongs to a single run (AgentWorkflow), not a conversation
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from core.errors import InvalidInputError, PayloadTooLargeError
from core.frozen import Frozen
from core.guardrails import BudgetUse, RunBudgets
from core.llm import ModelSettings
from core.models import AuditEntry, PendingApproval, RunState, ToolCallRecord
from core.progress import ProgressEvent

# Workflow ids, SQLite keys and file names all take these: no slash, space, quote or control character.
THREAD_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
MESSAGE_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
USER_ID = r"^[A-Za-z0-9_.@-]+$"
# Where the newest message starts in the prompt a conversation gives its agent: what came before is
# memory (earlier conversations, the summary, recent exchanges).
NEW_MESSAGE = "[New message]"


class ConversationClosedError(InvalidInputError):
    pass


class EmptyMessageError(InvalidInputError):
    pass


class MessageTooLargeError(PayloadTooLargeError):
    pass


class ThreadIdError(InvalidInputError):
    pass


class ThreadIdTakenError(InvalidInputError):
    pass


CONVERSATION_ERRORS: dict[str, type[InvalidInputError] | type[PayloadTooLargeError]] = {
    cls.__name__: cls
    for cls in (
        ConversationClosedError,
        EmptyMessageError,
        MessageTooLargeError,
        ThreadIdError,
        ThreadIdTakenError,
    )
}


def check_thread_id(thread_id: str) -> str:
    """The id itself, or ThreadIdError saying what the stores cannot key."""
    if not re.match(THREAD_ID, thread_id):
        raise ThreadIdError(
            f"thread id {thread_id[:80]!r} must match {THREAD_ID} (letters, digits, . _ : -; ≤ 128)",
            details={"pattern": THREAD_ID},
        )
    return thread_id


@dataclass(frozen=True)
class ConversationPolicy:
    """How an agent converses: part of its definition (core/agent.py: Agent.conversation)."""

    # A message that arrives while another is handled: "queue" answers each in turn, "merge" joins all
    # that waited into one turn (one answer, given to each of them).
    double_texting: Literal["queue", "merge"] = "queue"
    idle_timeout_s: float = 24 * 3600
    max_message_chars: int = 8_000
    recent_exchanges: int = 6  # kept verbatim; older ones are folded into the summary
    summary_chars: int = 1_500
    kept_ids: int = 30  # identifiers the summary keeps verbatim, the newest first
    episodes_in_prompt: int = 3
    # Continue-as-new when this run's history reaches this size, or after this many messages.
    history_bytes_per_run: int = 4_000_000
    messages_per_run: int = 250

    def __post_init__(self) -> None:
        if self.double_texting not in ("queue", "merge"):
            raise ValueError(f"double_texting must be 'queue' or 'merge', not {self.double_texting!r}")
        if self.idle_timeout_s <= 0 or self.max_message_chars < 1 or self.recent_exchanges < 1:
            raise ValueError("idle_timeout_s, max_message_chars and recent_exchanges must be positive")


class ConversationBudget(Frozen):
    """What the whole conversation may spend; each message also has its own RunBudgets."""

    max_messages: int = Field(10_000, ge=1, le=1_000_000)
    max_tokens: int = Field(20_000_000, ge=1000, le=500_000_000)
    max_cost_usd: float = Field(20.0, gt=0.0, le=10_000.0)


class Exchange(Frozen):
    """One handled message (or several merged) and the agent's answer, kept verbatim while recent."""

    message_ids: tuple[str, ...]
    user: str
    assistant: str
    outcome: RunState
    ids: tuple[str, ...] = ()  # identifiers the exchange named (the agent's keep_exact patterns)


class QueuedMessage(Frozen):
    message_id: str
    text: str


class ReplyStatus(StrEnum):
    ACCEPTED = "accepted"  # wait=False: queued, answer later with await_reply
    ANSWERED = "answered"
    CARRIED = "carried"  # handed to the next run (continue-as-new): await_reply there


class MessageReply(Frozen):
    message_id: str
    status: ReplyStatus
    answer: str = ""
    outcome: RunState | None = None
    merged_with: tuple[str, ...] = ()  # the other messages this answer also answers ("merge")
    tool_calls: tuple[ToolCallRecord, ...] = ()
    cached_calls: int = 0
    prompt_tokens: int = 0  # of this message's model calls, all turns
    run: int = 1


class CachedResult(Frozen):
    key: str
    tool: str
    observation: str
    result: Any = None
    expires_at: datetime


class Episode(Frozen):
    """A closed conversation, remembered for the next one with the same user."""

    key: str  # thread id and the conversation's first run: a retried write stores one episode
    agent: str
    user_id: str
    thread_id: str
    issue: str
    resolution: str
    ids: tuple[str, ...] = ()
    messages: int = 0
    closed_at: datetime


class EpisodeQuery(Frozen):
    agent: str
    user_id: str
    limit: int = Field(3, ge=0, le=20)


class Episodes(Frozen):
    episodes: tuple[Episode, ...] = ()


class EpisodeStored(Frozen):
    stored: bool  # False: an episode of this key was already there


class CloseSignal(Frozen):
    by: str = Field("user", min_length=1, max_length=128)
    reason: str = Field("closed", max_length=300)


class SendMessage(Frozen):
    # Unconstrained here: the update's validator answers with a typed error rather than a decode error.
    text: str
    wait: bool = True
    # The caller's own id: a retried send with the same id is answered, never handled twice.
    message_id: str | None = Field(None, pattern=MESSAGE_ID)


class ConversationCarry(Frozen):
    """Everything a conversation hands to its next run on continue-as-new."""

    opened_run: str
    opened_at: datetime
    runs: int
    summary: str = ""
    recent: tuple[Exchange, ...] = ()
    kept_ids: tuple[str, ...] = ()
    first_message: str = ""
    episodes: tuple[Episode, ...] = ()
    queued: tuple[QueuedMessage, ...] = ()
    answered: tuple[MessageReply, ...] = ()
    next_message: int = 0
    handled: int = 0
    turns: int = 0
    escalations: int = 0
    cache: tuple[CachedResult, ...] = ()
    spent: BudgetUse = BudgetUse()
    audit: tuple[AuditEntry, ...] = ()
    blocked: dict[str, str] = Field(default_factory=dict)
    last_activity: datetime
    progress: tuple[ProgressEvent, ...] = ()
    progress_next_seq: int = 0


class ConversationRequest(Frozen):
    thread_id: str = Field(pattern=THREAD_ID)
    agent: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,47}$")
    user_id: str = Field("anonymous", min_length=1, max_length=128, pattern=USER_ID)
    budgets: RunBudgets | None = None  # per message; None: the agent's
    budget: ConversationBudget = ConversationBudget()
    model: ModelSettings = ModelSettings()
    # None: the agent's ConversationPolicy value.
    idle_timeout_s: float | None = Field(None, gt=0, le=30 * 24 * 3600)
    history_bytes_per_run: int | None = Field(None, ge=10_000, le=40_000_000)
    messages_per_run: int | None = Field(None, ge=1, le=10_000)
    carry: ConversationCarry | None = None


class ConversationState(StrEnum):
    OPEN = "open"  # waiting for a message
    BUSY = "busy"  # handling one
    CLOSING = "closing"  # closed to new messages, answering the queued ones and storing the episode
    CLOSED = "closed"


class ConversationStatus(Frozen):
    thread_id: str
    agent: str
    state: ConversationState
    run: int
    handled: int
    queued: tuple[str, ...] = ()
    busy_with: tuple[str, ...] = ()
    pending: tuple[PendingApproval, ...] = ()  # approvals the message being handled waits for
    summary: str = ""
    recent: int = 0
    cached: int = 0
    spent: BudgetUse = BudgetUse()
    history_bytes: int = 0


class ConversationResult(Frozen):
    thread_id: str
    agent: str
    close_reason: str
    handled: int
    runs: int
    episode_stored: bool = False
    refused: str | None = None  # why the conversation could not start (an unknown agent, ...)
    spent: BudgetUse = BudgetUse()
