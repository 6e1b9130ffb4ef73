"""Fleet-wide rate limits: contracts of the limiter entity workflow (workflows/rate_limiter.py).

One limit per model as the worker's registry names it (a provider and its model) or per tool
(`tool:<agent>.<tool>`): requests per minute and, for models, tokens per minute. Every worker leases
from the same entity workflow before each call, so the fleet spends one budget, and a 429's
Retry-After holds every worker off at once.

    AGENT_RATE_LIMITS="gpt-4o-mini=60rpm,20000tpm;tool:my_agent.lookup=30rpm;big-model=6000rpm,4shards"

A limit that cannot be met (0 requests, negative tokens, an unreadable entry) is refused when the
worker starts.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import Field, ValidationError, model_validator

from core.frozen import Frozen

LIMIT_KEY = r"^[A-Za-z0-9][A-Za-z0-9_.:/@#-]{0,127}$"
_PART = re.compile(r"^\s*(\d+|-\d+)\s*(rpm|tpm|shards)\s*$")


class RateLimit(Frozen):
    key: str = Field(pattern=LIMIT_KEY)
    rpm: int = Field(gt=0, le=1_000_000, description="requests per minute, fleet-wide")
    tpm: int | None = Field(None, gt=0, le=1_000_000_000, description="tokens per minute, fleet-wide")
    # Leases are paced at this share of the limit: clocks and latencies differ between a worker and the
    # provider, and a provider counting a rolling minute must never see more than its limit.
    headroom: float = Field(0.95, gt=0.5, le=1.0)
    # Past one limiter's ceiling: the budget split over this many limiters, each with its share.
    shards: int = Field(1, ge=1, le=64)

    @model_validator(mode="after")
    def _each_shard_can_call(self) -> RateLimit:
        if self.rpm < self.shards or (self.tpm is not None and self.tpm < self.shards):
            raise ValueError(f"{self.shards} shards cannot share {self.rpm} rpm / {self.tpm} tpm")
        return self

    def shard(self, index: int) -> RateLimit:
        """Shard `index`'s share: the shards' budgets add up to at most the whole."""
        tpm = None if self.tpm is None else self.tpm // self.shards
        return RateLimit(
            key=f"{self.key}#{index}", rpm=self.rpm // self.shards, tpm=tpm, headroom=self.headroom
        )


class LeaseRequest(Frozen):
    holder: str = Field(min_length=1, max_length=256)  # who asks (a workflow and call), for the log
    tokens: int = Field(0, ge=0, le=10_000_000)


class LeaseGrant(Frozen):
    """When the holder may call: `wait_s` from now (0: at once); `held` when a 429 holds everyone off."""

    key: str
    wait_s: float
    held: bool = False


class HoldOff(Frozen):
    retry_after_s: float = Field(gt=0.0, le=3600.0)
    by: str = ""


class LimiterState(Frozen):
    """What a limiter carries across continue-as-new, so no restart resets its budget."""

    hold_until: datetime | None = None
    leases: int = 0
    holds: int = 0
    waited_s: float = 0.0


class LimiterInput(Frozen):
    limit: RateLimit
    state: LimiterState = LimiterState()
    # The leases of the last minute (grant times and their tokens), carried across continue-as-new.
    window_at: tuple[datetime, ...] = ()
    window_tokens: tuple[int, ...] = ()
    window_holders: tuple[str, ...] = ()


# The run's signal telling it a call waits for a lease (workflows/thinking.py shows it in progress).
RATE_LIMIT_WAIT_SIGNAL = "rate_limit_wait"
# Shorter waits are not worth an event in the run's history.
SHOWN_WAIT_S = 1.0


class RateLimitWait(Frozen):
    key: str
    wait_s: float
    held: bool = False

    def sentence(self) -> str:
        what = "the model's" if not self.key.startswith("tool:") else f"{self.key.removeprefix('tool:')}'s"
        why = "Retry-After" if self.held else "rate limit"
        return f"waiting for {what} {why}, {self.wait_s:.0f} s"


class RateLimitConfigError(ValueError):
    """AGENT_RATE_LIMITS holds a limit that cannot be met, or cannot be read."""


def parse_limits(text: str) -> dict[str, RateLimit]:
    """`key=60rpm,20000tpm;key2=30rpm` → limits by key; RateLimitConfigError naming the bad entry."""
    limits: dict[str, RateLimit] = {}
    for entry in (e.strip() for e in text.split(";")):
        if not entry:
            continue
        key, sep, spec = entry.partition("=")
        values: dict[str, int] = {}
        for part in spec.split(","):
            match = _PART.match(part)
            if not sep or match is None:
                raise RateLimitConfigError(f"rate limit {entry!r}: expected key=<n>rpm[,<n>tpm][,<n>shards]")
            values[match.group(2)] = int(match.group(1))
        try:
            shards = values.get("shards", 1)
            limits[key.strip()] = RateLimit(
                key=key.strip(), rpm=values.get("rpm", 0), tpm=values.get("tpm"), shards=shards
            )
        except ValidationError as exc:
            why = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise RateLimitConfigError(f"rate limit {entry!r} cannot be met: {why}") from None
    return limits
