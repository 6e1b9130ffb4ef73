"""What the HTTP API takes and answers (OpenAPI at /docs is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.models import AgentResult, PendingApproval, RunState

# The Idempotency-Key becomes the workflow id: what Temporal and a shell can both carry unquoted.
IDEMPOTENCY_KEY = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$"


class _Body(BaseModel):
    # An unknown field is refused: a body cannot name an approver, or anything else the API decides.
    model_config = ConfigDict(extra="forbid", frozen=True)


class StartRun(_Body):
    task: str = Field(min_length=1, max_length=20_000)
    agent: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,47}$")
    user: str = Field("anonymous", min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@-]+$")


class Decision(_Body):
    call_id: str = Field(min_length=1, max_length=64)
    verdict: Literal["approve", "deny"]
    # Required: a person approves exactly the arguments they were shown.
    args_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    reason: str | None = Field(None, max_length=4000)


class Reply(_Body):
    text: str = Field(min_length=1, max_length=20_000)
    resume: bool = False  # True: guidance, and the agent resumes; False: the text is the final answer


class Cancel(_Body):
    reason: str = Field("cancelled through the API", min_length=1, max_length=4000)


class RunCreated(BaseModel):
    run_id: str
    created: bool  # False: the Idempotency-Key named a run that already exists
    links: dict[str, str]


class RunView(BaseModel):
    run_id: str
    agent: str
    user: str | None
    started_by: str | None
    state: RunState
    turn: int
    pending: tuple[PendingApproval, ...] = ()
    answer: str | None = None
    result: AgentResult | None = None


class ApprovalView(BaseModel):
    run_id: str
    agent: str
    user: str | None
    started_by: str | None
    call_id: str
    tool: str
    args: dict[str, Any]
    args_sha256: str
    requested_at: datetime
    deadline: datetime
    roles_needed: tuple[str, ...]
    temporal_ui: str
    kind: Literal["run", "thread"] = "run"  # thread: a call of a conversation's message (run_id: its id)
    decisions: str = ""  # where to POST the decision


class Accepted(BaseModel):
    run_id: str
    accepted: Literal[True] = True
    by: str
    detail: dict[str, Any] = Field(default_factory=dict)
