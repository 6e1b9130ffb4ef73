"""Leasing from the fleet's rate limiters (workflows/rate_limiter.py) before a call leaves the worker.

Each attempt of a limited call leases (update-with-start: the limiter is created on first use, on
this worker's task queue), waits out its grant while heartbeating, then calls; a 429's Retry-After is
signalled to the limiter, which holds every worker off until then.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping

import structlog
from temporalio import activity
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from core.errors import TransientError
from core.models import LlmRequest
from core.ratelimit import (
    RATE_LIMIT_WAIT_SIGNAL,
    SHOWN_WAIT_S,
    HoldOff,
    LeaseGrant,
    LeaseRequest,
    LimiterInput,
    RateLimit,
    RateLimitWait,
)
from workflows.rate_limiter import RateLimiterWorkflow, limiter_id

log = structlog.get_logger(__name__)
# Leases one worker has in flight per limiter: the server takes at most 10 concurrent updates per
# workflow (history.maxInFlightUpdates), beyond which it answers ResourceExhausted and clients retry.
IN_FLIGHT_PER_WORKER = 3


class FleetLimiter:
    def __init__(self, client: Client, task_queue: str, limits: Mapping[str, RateLimit]) -> None:
        self.client = client
        self.task_queue = task_queue
        self.limits = dict(limits)
        self._gates: dict[str, asyncio.Semaphore] = {}

    def limit_of(self, key: str) -> RateLimit | None:
        return self.limits.get(key)

    async def lease(
        self, key: str, holder: str, tokens: int = 0, workflow_id: str | None = None
    ) -> LeaseGrant | None:
        """Wait for this call's turn under `key`'s limit (telling run `workflow_id`, whose progress
        shows it); None when `key` has no limit."""
        grant = await self.grant(key, holder, tokens)
        if grant is not None and workflow_id and grant.wait_s >= SHOWN_WAIT_S:
            await self._tell(workflow_id, RateLimitWait(key=key, wait_s=grant.wait_s, held=grant.held))
        if grant is not None and grant.wait_s > 0:
            why = "a provider's Retry-After" if grant.held else "the rate limit"
            log.info("ratelimit.wait", key=key, wait_s=round(grant.wait_s, 2), holder=holder)
            if activity.in_activity():
                activity.heartbeat(f"waiting for {why} of {key}, {grant.wait_s:.0f} s")
            await asyncio.sleep(grant.wait_s)
        return grant

    async def _tell(self, workflow_id: str, waiting: RateLimitWait) -> None:
        """Progress only: a run that cannot be told (gone, or the server busy) still gets its call."""
        try:
            await self.client.get_workflow_handle(workflow_id).signal(RATE_LIMIT_WAIT_SIGNAL, waiting)
        except Exception as exc:
            log.warning(
                "ratelimit.tell_failed", workflow_id=workflow_id, error=f"{type(exc).__name__}: {exc}"
            )

    async def grant(self, key: str, holder: str, tokens: int = 0) -> LeaseGrant | None:
        """This call's turn under `key`'s limit, reserved (not waited for); None when `key` has none."""
        limit = self.limits.get(key)
        if limit is None:
            return None
        if limit.shards > 1:  # the caller's run picks its shard: one run's calls stay in order
            limit = limit.shard(shard_of(holder, limit.shards))
        start = WithStartWorkflowOperation(
            RateLimiterWorkflow.run,
            LimiterInput(limit=limit),
            id=limiter_id(limit.key),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        gate = self._gates.setdefault(limit.key, asyncio.Semaphore(IN_FLIGHT_PER_WORKER))
        try:
            async with gate:
                grant: LeaseGrant = await self.client.execute_update_with_start_workflow(
                    RateLimiterWorkflow.lease,
                    LeaseRequest(holder=holder[:256], tokens=tokens),
                    start_workflow_operation=start,
                )
        except (RPCError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
            # E.g. the limiter between two runs (continue-as-new): the attempt is retried, as any blip.
            raise TransientError(
                f"rate limiter {limit.key} unavailable: {type(exc).__name__}: {exc}"
            ) from exc
        return grant

    async def hold(self, key: str, retry_after_s: float, by: str) -> None:
        """Tell `key`'s limiters that the provider asked everyone to wait this long (signal-with-start):
        every shard, since a 429 is the provider's view of the whole key."""
        limit = self.limits.get(key)
        if limit is None:
            return
        off = HoldOff(retry_after_s=min(3600.0, retry_after_s), by=by[:256])
        shards = [limit.shard(i) for i in range(limit.shards)] if limit.shards > 1 else [limit]
        for one in shards:
            await self.client.start_workflow(
                RateLimiterWorkflow.run,
                LimiterInput(limit=one),
                id=limiter_id(one.key),
                task_queue=self.task_queue,
                start_signal="hold",  # signal-with-start: the running limiter if there is one
                start_signal_args=[off],
            )


def shard_of(holder: str, shards: int) -> int:
    """A stable shard for a run (the holder's workflow id, before its `:call` part)."""
    run = holder.rsplit(":", 1)[0]
    return int.from_bytes(hashlib.sha256(run.encode()).digest()[:4], "big") % shards


def charged_tokens(req: LlmRequest) -> int:
    """What a provider charges up front for a call: its prompt (about 4 characters a token) and the
    completion at its cap, as OpenAI-style quotas count them."""
    chars = sum(len(m.content) for m in req.messages)
    return chars // 4 + req.settings.max_output_tokens
