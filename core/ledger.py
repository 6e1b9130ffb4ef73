"""Contracts of the per-user daily ledger (workflows/ledger.py) and of the activities that reach it."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from core.frozen import Frozen
from core.guardrails import UserDayBudget

ID_PART = r"^[A-Za-z0-9_.@:/-]+$"


class ReserveRequest(Frozen):
    run_id: str = Field(min_length=1, max_length=256, pattern=ID_PART)
    call_id: str = Field(min_length=1, max_length=128, pattern=ID_PART)
    tokens: int = Field(ge=0, le=10_000_000)
    usd: float = Field(ge=0.0, le=1000.0, allow_inf_nan=False)


class ReserveResult(Frozen):
    granted: bool
    remaining_usd: float
    remaining_tokens: int
    reason: str = ""


class SettleRequest(Frozen):
    run_id: str = Field(min_length=1, max_length=256, pattern=ID_PART)
    call_id: str = Field(min_length=1, max_length=128, pattern=ID_PART)
    actual_tokens: int = Field(ge=0, le=10_000_000)
    actual_usd: float = Field(ge=0.0, le=1000.0, allow_inf_nan=False)


class LedgerBalance(Frozen):
    user_id: str
    day: str
    limit_usd: float
    limit_tokens: int
    settled_usd: float
    settled_tokens: int
    reserved_usd: float
    reserved_tokens: int
    remaining_usd: float
    remaining_tokens: int
    calls: int
    refused: int


class Reservation(Frozen):
    tokens: int
    usd: float
    at: datetime


class LedgerState(BaseModel):
    """Everything the ledger knows; carried whole across continue-as-new."""

    model_config = ConfigDict(extra="forbid")

    settled_usd: float = 0.0
    settled_tokens: int = 0
    open: dict[str, Reservation] = Field(default_factory=dict)
    decisions: dict[str, ReserveResult] = Field(default_factory=dict)
    settled: dict[str, float] = Field(default_factory=dict)
    refused: int = 0


class LedgerInput(Frozen):
    user_id: str = Field(min_length=1, max_length=128)
    day: date
    limits: UserDayBudget = UserDayBudget()
    state: LedgerState | None = None
    # A late settle (a call that began before midnight) still lands here within this grace.
    grace_s: float = Field(24 * 3600, ge=0)
    # An unsettled reservation (its run was terminated) is released after this long.
    reservation_ttl_s: float = Field(3600, gt=0)
    max_history: int = Field(10_000, ge=20)


class LedgerCall(Frozen):
    user_id: str = Field(min_length=1, max_length=128)
    day: date
    limits: UserDayBudget = UserDayBudget()
    run_id: str
    call_id: str
    tokens: int = 0
    usd: float = 0.0
