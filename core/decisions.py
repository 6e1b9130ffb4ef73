"""What humans send a run: approvals, denials, replies to escalations, cancellations."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.frozen import Frozen


class ApproveSignal(Frozen):
    call_id: str = Field(min_length=1, max_length=64)
    approver: str = Field(min_length=1, max_length=128)
    reason: str | None = Field(None, max_length=4000)
    args_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


class DenySignal(Frozen):
    call_id: str = Field(min_length=1, max_length=64)
    approver: str = Field(min_length=1, max_length=128)
    reason: str = Field(min_length=1, max_length=4000)


class CancelSignal(Frozen):
    by: str = Field(min_length=1, max_length=128)
    reason: str = Field("cancelled by operator", max_length=4000)


class HumanReplySignal(Frozen):
    responder: str = Field(min_length=1, max_length=128)
    text: str = Field(min_length=1, max_length=20_000)
    # False: the reply is the final answer. True: it is guidance and the loop resumes.
    resume: bool = False


class DecideUpdate(Frozen):
    """The synchronous form of approve/deny for clients that need an immediate yes or no."""

    call_id: str = Field(min_length=1, max_length=64)
    approver: str = Field(min_length=1, max_length=128)
    verdict: Literal["approve", "deny"]
    reason: str | None = Field(None, max_length=4000)
    args_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


class DecideResult(Frozen):
    accepted: bool
    call_id: str
    verdict: Literal["approve", "deny"]
