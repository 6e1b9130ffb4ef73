"""One declaration per tool: schema for the model, activity, validation and retry policy."""

from __future__ import annotations

import difflib
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio.common import RetryPolicy

from core.errors import NON_RETRYABLE_TYPE_NAMES, InvalidInputError, ToolNotFoundError
from core.guardrails import Strategy
from core.models import ToolSchema

D = TypeVar("D")
# What OpenAI-compatible APIs accept as a function name.
TOOL_NAME = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"


def model_facing(schema: Any) -> Any:
    """The JSON schema without pydantic's `title`s: each repeats its property's name in other words,
    and a small model reads every one of them on every call that misses the prefix cache."""
    if isinstance(schema, list):
        return [model_facing(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "$defs") and isinstance(value, dict):
            out[key] = {name: model_facing(sub) for name, sub in value.items()}  # names, not keywords
        elif not (key == "title" and isinstance(value, str)):
            out[key] = model_facing(value)
    return out


@dataclass(frozen=True)
class ToolContext(Generic[D]):
    """What a tool handler gets besides its arguments: the call's identity and the agent's deps."""

    workflow_id: str
    call_id: str
    # workflow_id:call_id: the unique key a side effect is recorded under, so a retry finds it.
    idempotency_key: str
    deps: D
    user_id: str = "anonymous"  # whom the run acts for (AgentRequest.user_id)


Handler = Callable[[ToolContext[Any], Any], Awaitable[BaseModel]]

# Past this, a dead worker's call would wait too long to be retried: such tools must heartbeat.
LONG_TOOL = timedelta(seconds=30)
# Beats go out every 2 s (activities/heartbeat.py): a timeout must leave room for a few.
MIN_HEARTBEAT = timedelta(seconds=5)


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    args_model: type[BaseModel]
    handler: Handler = field(repr=False, compare=False)
    # Read-only check of the business rules, run before a human is asked to approve: nobody should
    # approve a call that is bound to fail.
    precheck: Handler | None = field(default=None, repr=False, compare=False)
    irreversible: bool = False
    side_effect: bool = False
    timeout: timedelta = timedelta(seconds=10)
    max_attempts: int = 3
    # Served, marked degraded, when the primary is down (circuit open, or its last attempt failed).
    fallback: Handler | None = field(default=None, repr=False, compare=False)
    # Circuit breaker (activities/breaker.py): open after N consecutive dependency failures, probe after
    # the cool-down, close after M probe successes. Plain numbers so core does not import activities.
    breaker_threshold: int = 3
    breaker_cooldown_s: float = 30.0
    breaker_successes: int = 2
    # Run as a local activity, in the workflow's own task: no scheduling round trip through the server
    # (bench/overhead.py: a no-op step ~2.6 ms local vs ~10 ms as an activity). Only for cheap, read-only
    # tools: a local result is recorded when the workflow task completes, so a crashed worker re-runs
    # it, and it cannot heartbeat or show as pending in the UI.
    local: bool = False
    # A tool that may run longer than LONG_TOOL heartbeats while its handler runs, so a killed worker's
    # call is retried elsewhere after this long instead of after the whole `timeout`.
    heartbeat_timeout: timedelta | None = None
    # How the observation is cut for the model when it is too long (None: the agent's default).
    truncation: Strategy | None = None
    # A read-only tool whose result a conversation may reuse for this long (workflows/tool_cache.py):
    # the same call with the same arguments is answered from workflow state, with no activity.
    cache_ttl_s: float | None = None
    # The model of the handler's result, when known (function tools): lets a plan's reference to a
    # result field (`$s1.transaction_id`) be checked before anything runs.
    result_model: type[BaseModel] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not re.match(TOOL_NAME, self.name):
            raise ValueError(f"tool name {self.name!r} must match {TOOL_NAME}")
        if self.local and (self.irreversible or self.side_effect):
            raise ValueError(f"{self.name}: a tool with side effects cannot run as a local activity")
        if self.cache_ttl_s is not None and (self.irreversible or self.side_effect):
            raise ValueError(f"{self.name}: a tool with side effects is never cached (cache_ttl_s)")
        if self.cache_ttl_s is not None and not 0 < self.cache_ttl_s <= 7 * 24 * 3600:
            raise ValueError(f"{self.name}: cache_ttl_s must be within 0..7 days")
        if self.timeout > LONG_TOOL and self.heartbeat_timeout is None:
            raise ValueError(f"{self.name}: a timeout over {LONG_TOOL} needs a heartbeat_timeout")
        if self.heartbeat_timeout is not None and self.local:
            raise ValueError(f"{self.name}: a local activity cannot heartbeat")
        if self.heartbeat_timeout is not None and not MIN_HEARTBEAT <= self.heartbeat_timeout <= LONG_TOOL:
            raise ValueError(f"{self.name}: heartbeat_timeout must be within {MIN_HEARTBEAT}..{LONG_TOOL}")

    def schema(self) -> ToolSchema:
        return ToolSchema(
            name=self.name,
            description=self.description,
            parameters=model_facing(self.args_model.model_json_schema()),
        )

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            initial_interval=timedelta(milliseconds=500),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=30),
            maximum_attempts=self.max_attempts,
            non_retryable_error_types=NON_RETRYABLE_TYPE_NAMES,
        )

    def validate(self, args: dict[str, Any]) -> BaseModel:
        """Parse arguments or raise InvalidInputError listing every field error."""
        try:
            return self.args_model.model_validate(args)
        except ValidationError as exc:
            fields = [
                {"field": ".".join(str(p) for p in err["loc"]) or "(root)", "error": err["msg"]}
                for err in exc.errors(include_url=False, include_input=False)
            ]
            raise InvalidInputError(
                f"invalid arguments for {self.name}", details={"fields": fields}
            ) from None


class ToolRegistry:
    """The tools of one agent, by name."""

    def __init__(self, specs: list[ToolSpec]) -> None:
        self._specs = {spec.name: spec for spec in specs}
        if len(self._specs) != len(specs):
            raise ValueError("duplicate tool name in registry")

    def __iter__(self) -> Iterator[ToolSpec]:
        return iter(self._specs.values())

    def names(self) -> list[str]:
        return list(self._specs)

    def schemas(self) -> tuple[ToolSchema, ...]:
        return tuple(spec.schema() for spec in self._specs.values())

    def get(self, name: str) -> ToolSpec:
        """Return the tool or raise ToolNotFoundError naming the closest real tools."""
        spec = self._specs.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.4)
            raise ToolNotFoundError(
                f"no tool named {name!r}",
                details={"closest": close, "available": self.names()},
            )
        return spec
