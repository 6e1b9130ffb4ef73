"""What the scheduled eval takes and returns (EvalSuiteWorkflow and its activity)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from evals.results import DRIFT_DROP


class EvalSuiteRequest(BaseModel):
    agent: str = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")
    prompt_version: str | None = None  # None: the agent's current version
    categories: tuple[str, ...] = ()  # empty: every case
    drop: float = Field(DRIFT_DROP, gt=0, le=1)


class EvalSuiteResult(BaseModel):
    agent: str
    label: str
    cases: int
    pass_rate: float
    baseline_rate: float | None
    drift: bool
    ticket_id: str | None = None
    stored: str
    failing: tuple[str, ...] = ()
