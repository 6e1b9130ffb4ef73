"""What the /v1/threads routes take and answer (OpenAPI at /docs is generated from these)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.conversation import MESSAGE_ID, ConversationResult, ConversationStatus


class ThreadMessage(BaseModel):
    # An unknown field is refused, as on every body: nobody names the user or approver but the token.
    model_config = ConfigDict(extra="forbid", frozen=True)

    # No length bounds here: an empty or oversize message gets the conversation's own typed error
    # (EmptyMessageError 400, MessageTooLargeError 413) rather than a generic validation one.
    text: str
    agent: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,47}$")  # when the thread starts
    wait: bool = True  # JSON only: False answers 202 with the message id at once
    # The caller's id for the message: a retried POST with it is answered, never handled twice.
    message_id: str | None = Field(None, pattern=MESSAGE_ID)


class CloseThread(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: str = Field("closed through the API", min_length=1, max_length=300)


class ThreadView(BaseModel):
    thread_id: str
    started_by: str | None  # the identity whose token started it (None: started outside the API)
    open: bool
    status: ConversationStatus | None = None  # while open: state, queue, pending approvals, summary
    result: ConversationResult | None = None  # once closed
    ended: str | None = None  # closed without a result (terminated, timed out): why


class ThreadAccepted(BaseModel):
    thread_id: str
    accepted: Literal[True] = True
    by: str
    detail: dict[str, Any] = Field(default_factory=dict)
