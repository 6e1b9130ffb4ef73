"""Per-tool circuit breakers, kept in the worker's memory: a sick dependency is left alone for a while.

    closed ──N consecutive dependency failures──► open ──cool-down elapsed──► half_open
      ▲                                             ▲                            │
      └──────────── M probe successes ──────────────┼──── probe fails ───────────┘

Pure and deterministic: time comes from an injected clock (monotonic seconds), so tests drive it.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

import structlog

from core.config import ConfigError
from core.errors import RETRYABLE_ERRORS, CircuitOpenError
from core.toolspec import ToolSpec

log = structlog.get_logger(__name__)

Clock = Callable[[], float]
ENV_VAR = "AGENT_BREAKERS"
UNCLASSIFIED = "unclassified"
TIMEOUT = "timeout"
# Only failures that say the dependency is sick trip a breaker: a bad argument or a missing record is
# an answer from a healthy dependency, and must not take a tool away from every other run.
TRIPPING_FAILURES = frozenset({cls.__name__ for cls in RETRYABLE_ERRORS} | {UNCLASSIFIED, TIMEOUT})


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerConfig:
    failure_threshold: int = 3
    cooldown_s: float = 30.0
    success_threshold: int = 2

    @classmethod
    def of(cls, spec: ToolSpec) -> BreakerConfig:
        return cls(spec.breaker_threshold, spec.breaker_cooldown_s, spec.breaker_successes)

    def validated(self, tool: str, source: str = "ToolSpec") -> BreakerConfig:
        """Return self, or raise ConfigError naming the tool and every bad value."""
        problems = []
        if not _positive_int(self.failure_threshold):
            problems.append(f"failure threshold must be an integer >= 1, got {self.failure_threshold!r}")
        if not (isinstance(self.cooldown_s, int | float) and math.isfinite(self.cooldown_s)) or not (
            self.cooldown_s > 0
        ):
            problems.append(f"cool-down must be a finite number of seconds > 0, got {self.cooldown_s!r}")
        if not _positive_int(self.success_threshold):
            problems.append(f"success threshold must be an integer >= 1, got {self.success_threshold!r}")
        if problems:
            raise ConfigError(f"{source}: circuit breaker of tool {tool!r}: " + "; ".join(problems))
        return self


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


class CircuitBreaker:
    """One tool's breaker; `before_call` guards every attempt, `record_*` reports how it went."""

    def __init__(self, tool: str, config: BreakerConfig, clock: Clock = time.monotonic) -> None:
        self.tool = tool
        self.config = config.validated(tool)
        self._clock = clock
        self.state = BreakerState.CLOSED
        self.failures = 0  # consecutive dependency failures while closed
        self.successes = 0  # probe successes while half-open
        self._opened_at = 0.0
        self._probe_since: float | None = None

    def before_call(self) -> None:
        """Raise CircuitOpenError unless this call may reach the dependency."""
        now = self._clock()
        if self.state is BreakerState.OPEN:
            remaining = self._opened_at + self.config.cooldown_s - now
            if remaining > 0:
                raise self._open_error(remaining)
            self.state, self.successes = BreakerState.HALF_OPEN, 0
            log.info("circuit.half_open", tool=self.tool, failures=self.failures)
        if self.state is BreakerState.HALF_OPEN:
            # One probe at a time; a probe lost with its worker frees the slot after one cool-down.
            if self._probe_since is not None and now - self._probe_since < self.config.cooldown_s:
                raise CircuitOpenError(
                    f"{self.tool} is degraded (circuit half-open, a probe call is in flight); "
                    "do not call it again in this run",
                    details={"tool": self.tool, "state": self.state.value},
                )
            self._probe_since = now

    def record_success(self) -> None:
        self._probe_since = None
        if self.state is BreakerState.HALF_OPEN:
            self.successes += 1
            if self.successes >= self.config.success_threshold:
                self.state, self.failures, self.successes = BreakerState.CLOSED, 0, 0
                log.info("circuit.closed", tool=self.tool, cooldown=self.config.cooldown_s)
        elif self.state is BreakerState.CLOSED:
            self.failures = 0

    def record_failure(self, error_type: str) -> bool:
        """Count a failure if it implicates the dependency; returns whether it counted."""
        self._probe_since = None
        if error_type not in TRIPPING_FAILURES:
            return False
        if self.state is BreakerState.HALF_OPEN:
            self._open()
        elif self.state is BreakerState.CLOSED:
            self.failures += 1
            if self.failures >= self.config.failure_threshold:
                self._open()
        return True

    def release(self) -> None:
        """The call ended without saying anything about the dependency (e.g. cancelled)."""
        self._probe_since = None

    def _open(self) -> None:
        self.state, self.successes = BreakerState.OPEN, 0
        self._opened_at = self._clock()
        log.warning("circuit.opened", tool=self.tool, failures=self.failures, cooldown=self.config.cooldown_s)

    def _open_error(self, remaining: float) -> CircuitOpenError:
        wait = math.ceil(remaining)
        return CircuitOpenError(
            f"{self.tool} is degraded (circuit open after {self.failures} consecutive failures); "
            f"do not call it again in this run; retry after ~{wait} s",
            details={"tool": self.tool, "state": self.state.value, "retry_after_s": wait},
        )


class BreakerBoard:
    """One breaker per tool name, shared by every activity of the worker.

    Tool activities are coroutines on the worker's one event loop, so the breakers need no lock.
    """

    def __init__(self, configs: Mapping[str, BreakerConfig], clock: Clock = time.monotonic) -> None:
        self._breakers = {tool: CircuitBreaker(tool, cfg, clock) for tool, cfg in configs.items()}

    @classmethod
    def from_specs(
        cls, specs: Iterable[ToolSpec], *, env: str | None = None, clock: Clock = time.monotonic
    ) -> BreakerBoard:
        """Breakers from the specs, overridden by AGENT_BREAKERS (`env`, default: the environment)."""
        configs = {spec.name: BreakerConfig.of(spec).validated(spec.name) for spec in specs}
        overrides = parse_overrides(os.environ.get(ENV_VAR, "") if env is None else env)
        unknown = sorted(set(overrides) - set(configs))
        if unknown:
            raise ConfigError(f"{ENV_VAR} names unknown tools {unknown}; known: {sorted(configs)}")
        return cls({**configs, **overrides}, clock)

    def get(self, tool: str) -> CircuitBreaker:
        return self._breakers[tool]

    def __contains__(self, tool: object) -> bool:
        return tool in self._breakers


def parse_overrides(text: str) -> dict[str, BreakerConfig]:
    """Parse `tool=threshold/cooldown_s/successes,tool2=...`; refuse anything else with ConfigError."""
    overrides: dict[str, BreakerConfig] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        tool, _, values = (s.strip() for s in entry.partition("="))
        parts = values.split("/")
        try:
            if not tool or len(parts) != 3:
                raise ValueError(entry)
            config = BreakerConfig(int(parts[0]), float(parts[1]), int(parts[2]))
        except ValueError:
            raise ConfigError(
                f"{ENV_VAR}: cannot read {entry!r}; expected tool=threshold/cooldown_s/successes, "
                "e.g. get_transaction=3/30/2"
            ) from None
        if tool in overrides:
            raise ConfigError(f"{ENV_VAR}: tool {tool!r} is listed twice")
        overrides[tool] = config.validated(tool, ENV_VAR)
    return overrides
