"""The calls of the limiter-options bench (bench/limiter_options.py): caller runs and the model call.

A caller run makes model calls back to back until its deadline, each an activity on the option's own
LLM task queue. The call stands for a provider behind a quota (bench/fake_limits.py: requests and
tokens per rolling minute): admitted, it takes `latency_s`; refused, it raises RateLimitedError with the
quota's Retry-After, which Temporal retries after that delay. Before calling, the option decides how
it waits: a lease from the RateLimiter entity (requests and tokens, or tokens only), or nothing (the
task queue's own dispatch rate is the limit).

Like the agent's model calls (workflows/activity_options.py), a call heartbeats under a heartbeat
timeout: an attempt lost with its worker (the bench restarts every LLM worker mid-run, and a task the
old worker had polled as it shut down never runs) is retried within LLM_HEARTBEAT_TIMEOUT, not after
the whole start-to-close timeout.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():  # pydantic contracts and the error taxonomy: pure
    from activities.heartbeat import heartbeating
    from activities.ratelimit import FleetLimiter
    from bench.fake_limits import WindowLimits
    from core.errors import NON_RETRYABLE_TYPE_NAMES, RateLimitedError
    from workflows.activity_options import LLM_HEARTBEAT_TIMEOUT


class CallerInput(BaseModel):
    caller: int
    queue: str  # the option's LLM task queue
    seconds: float
    tokens: tuple[int, ...]  # the tokens of its calls, in turn


class CallInput(BaseModel):
    holder: str
    tokens: int


@workflow.defn(name="LimiterBenchCaller")
class CallerWorkflow:
    @workflow.run
    async def run(self, inp: CallerInput) -> int:
        deadline = workflow.now() + timedelta(seconds=inp.seconds)
        calls = 0
        while workflow.now() < deadline:
            tokens = inp.tokens[calls % len(inp.tokens)]
            await workflow.execute_activity(
                "limiter_bench.call",
                CallInput(holder=f"{workflow.info().workflow_id}:c{calls}", tokens=tokens),
                task_queue=inp.queue,
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=LLM_HEARTBEAT_TIMEOUT,
                retry_policy=RetryPolicy(
                    maximum_attempts=20, non_retryable_error_types=NON_RETRYABLE_TYPE_NAMES
                ),
            )
            calls += 1
        return calls


@dataclass
class Tally:
    """What the provider saw, and how long each call waited between being scheduled and going out."""

    quota: WindowLimits
    admitted: list[tuple[float, int]] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)  # the Retry-After of each 429, seconds
    refused_at: list[float] = field(default_factory=list)  # when (time.monotonic())
    waits: list[float] = field(default_factory=list)

    def line(self) -> str:
        return f"{len(self.admitted)} calls, {len(self.refused)} 429s"


@dataclass
class ModelCall:
    """The call activity of one option: `limiter` and `key` say whom it leases from first, if anyone."""

    tally: Tally
    limiter: FleetLimiter | None = None
    key: str = ""
    latency_s: float = 0.2

    @activity.defn(name="limiter_bench.call")
    async def call(self, inp: CallInput) -> None:
        await heartbeating(self._call(inp))

    async def _call(self, inp: CallInput) -> None:
        if self.limiter is not None:
            await self.limiter.lease(self.key, inp.holder, inp.tokens)
        scheduled = activity.info().current_attempt_scheduled_time.timestamp()
        now = time.time()
        wait = self.tally.quota.admit(inp.tokens, time.monotonic())
        if wait is not None:
            retry_after = float(max(1, -(-wait // 1)))  # whole seconds, as providers send it
            self.tally.refused.append(retry_after)
            self.tally.refused_at.append(time.monotonic())
            if self.limiter is not None:
                await self.limiter.hold(self.key, retry_after, inp.holder)
            err = RateLimitedError("HTTP 429", retry_after=timedelta(seconds=retry_after))
            raise err.to_application_error()
        self.tally.admitted.append((time.monotonic(), inp.tokens))
        self.tally.waits.append(max(0.0, now - scheduled))
        await asyncio.sleep(self.latency_s)
