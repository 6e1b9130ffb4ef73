"""The "perf" toolset for bench/overhead.py and bench/throughput.py: tools that do (almost) nothing.

Each tool comes in two names (`_a`, `_b`): the loop detector flags the same tool four turns in a row,
so a benchmark script alternates between them to run any number of turns.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from core.toolspec import Handler, ToolContext, ToolRegistry, ToolSpec

SLEEP_S = 0.1


class StepArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    i: int = Field(ge=0, description="the turn; distinct arguments keep the loop detector quiet")


class StepResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    i: int


async def noop(ctx: ToolContext[None], args: StepArgs) -> StepResult:
    return StepResult(i=args.i)


async def sleep_100ms(ctx: ToolContext[None], args: StepArgs) -> StepResult:
    """Stands in for a quick I/O-bound tool (a database lookup, an internal API)."""
    await asyncio.sleep(SLEEP_S)
    return StepResult(i=args.i)


def _spec(name: str, description: str, handler: Handler) -> ToolSpec:
    return ToolSpec(
        name=name,
        description=description,
        args_model=StepArgs,
        handler=handler,
        timeout=timedelta(seconds=10),
        max_attempts=3,
        local=True,  # no I/O beyond a sleep, nothing written: the cheap case local activities are for
    )


NOOP_TOOLS = ("noop_a", "noop_b")
SLEEP_TOOLS = ("sleep_a", "sleep_b")
REGISTRY = ToolRegistry(
    [
        *(_spec(name, "Does nothing and returns its argument.", noop) for name in NOOP_TOOLS),
        *(_spec(name, "Waits 100 ms and returns its argument.", sleep_100ms) for name in SLEEP_TOOLS),
    ]
)
