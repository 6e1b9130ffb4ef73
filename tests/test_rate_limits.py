"""Fleet-wide rate limits: refused when they cannot be met; leases in time from one entity workflow
whose state outlives the workers; a 429's Retry-After holds everyone off; model calls lease first."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.llm.scripted import ScriptedReply, ScriptedToolCall
from activities.ratelimit import FleetLimiter, shard_of
from core.config import ConfigError
from core.models import AgentRequest, RunState
from core.progress import ProgressKind
from core.ratelimit import RateLimit, RateLimitConfigError, parse_limits
from core.worker_options import worker_options
from tests.conftest import DEMO, result_or_task_failure, scripted_provider
from worker import build_worker, rate_limits_from_env
from workflows.agent import AgentWorkflow
from workflows.rate_limiter import RateLimiterWorkflow, limiter_id


def test_limits_are_read_from_one_line() -> None:
    limits = parse_limits("gpt-4o-mini=60rpm,20000tpm; tool:shop.get_product_info=30rpm")
    assert limits["gpt-4o-mini"] == RateLimit(key="gpt-4o-mini", rpm=60, tpm=20000)
    assert limits["tool:shop.get_product_info"].tpm is None
    assert parse_limits("") == {}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("m=0rpm", "greater than 0"),
        ("m=60rpm,-5tpm", "cannot be met"),
        ("m=60rpm,0tpm", "greater than 0"),
        ("m=20000tpm", "rpm"),
        ("m", "expected key="),
        ("m=sixty rpm", "expected key="),
    ],
)
def test_limits_that_cannot_be_met_are_refused_at_worker_start(text: str, why: str) -> None:
    with pytest.raises(RateLimitConfigError, match=why):
        parse_limits(text)
    with pytest.raises(ConfigError):
        rate_limits_from_env({"AGENT_RATE_LIMITS": text})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("scripted=0rpm", "worker: rate limit 'scripted=0rpm' cannot be met: rpm:"),
        ("scripted=60rpm,-5tpm", "worker: rate limit 'scripted=60rpm,-5tpm' cannot be met: tpm:"),
    ],
)
def test_the_worker_process_refuses_an_impossible_limit_in_one_line_before_it_connects(
    text: str, expected: str
) -> None:
    env = {
        **os.environ,
        "AGENT_RATE_LIMITS": text,
        "LLM_PROVIDER": "scripted",
        "TEMPORAL_ADDRESS": "127.0.0.1:1",
    }
    done = subprocess.run(
        [sys.executable, "worker.py"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1 and lines[0].startswith(expected), done.stderr


async def test_a_limit_on_a_model_the_worker_does_not_serve_is_refused(
    env: WorkflowEnvironment, store: Any
) -> None:
    limits = {"other-model": RateLimit(key="other-model", rpm=10)}
    with pytest.raises(ConfigError, match="other-model"):
        build_worker(
            env.client, "tq-x", [DEMO], scripted_provider({}), {DEMO.name: store}, rate_limits=limits
        )


def _worker(
    env: WorkflowEnvironment, queue: str, store: Any, limits: dict[str, RateLimit], scripts: Any = None
) -> Any:
    provider = scripted_provider(scripts or {})
    options = worker_options({}, strict=True)
    return build_worker(
        env.client, queue, [DEMO], provider, {DEMO.name: store}, rate_limits=limits, **options
    )


async def test_leases_fill_the_minute_then_wait_and_the_state_outlives_the_worker(
    env: WorkflowEnvironment, store: Any
) -> None:
    key = f"scripted-{uuid.uuid4().hex[:6]}"
    limit = RateLimit(key=key, rpm=5, tpm=1000, headroom=1.0)
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    limiter = FleetLimiter(env.client, queue, {key: limit})
    async with _worker(env, queue, store, {}):
        grants = [await limiter.grant(key, f"run:{n}", tokens=100) for n in range(5)]
        assert [g.wait_s for g in grants if g] == [0.0] * 5
    # A new worker: the limiter's minute is in Temporal, not in the worker that died.
    async with _worker(env, queue, store, {}):
        sixth = await limiter.grant(key, "run:6", tokens=100)
        assert sixth is not None and 45.0 <= sixth.wait_s <= 60.0  # the minute of the first lease
        # Its worker dies while it waits; the retried attempt gets the same slot, not a seventh.
        again = await limiter.grant(key, "run:6", tokens=100)
        assert again is not None and 0 <= sixth.wait_s - again.wait_s < 10.0
        state = await env.client.get_workflow_handle(limiter_id(key)).query(RateLimiterWorkflow.state)
    assert state.leases == 6


async def test_tokens_per_minute_bound_the_leases_too(env: WorkflowEnvironment, store: Any) -> None:
    key = f"scripted-{uuid.uuid4().hex[:6]}"
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    limiter = FleetLimiter(env.client, queue, {key: RateLimit(key=key, rpm=100, tpm=1000, headroom=1.0)})
    async with _worker(env, queue, store, {}):
        waits = [g.wait_s for n in range(3) if (g := await limiter.grant(key, f"c{n}", tokens=400))]
    assert waits[:2] == [0.0, 0.0] and 50.0 <= waits[2] <= 60.0
    assert await limiter.grant("unlimited", "c9") is None


async def test_a_retry_after_holds_every_caller_off(env: WorkflowEnvironment, store: Any) -> None:
    key = f"scripted-{uuid.uuid4().hex[:6]}"
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    limiter = FleetLimiter(env.client, queue, {key: RateLimit(key=key, rpm=100)})
    async with _worker(env, queue, store, {}):
        first = await limiter.grant(key, "a")
        await limiter.hold(key, 30.0, by="worker-1")
        second = await limiter.grant(key, "b")  # another worker's call, say
    assert first is not None and first.wait_s == 0.0
    assert second is not None and second.held and 25.0 <= second.wait_s <= 30.0


async def test_model_calls_lease_first_and_a_429_is_reported_to_the_limiter(
    env: WorkflowEnvironment, store: Any
) -> None:
    task = "What is the policy on duplicate charges?"
    limited = ScriptedReply(
        status=429, headers={"Retry-After": "2"}, fail_first=1, content="Our policy: refund."
    )
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    key = "scripted"
    async with _worker(env, queue, store, {key: RateLimit(key=key, rpm=600)}, {task: [limited]}):
        handle = await env.client.start_workflow(
            AgentWorkflow.run, AgentRequest(task=task), id=f"rl-{uuid.uuid4().hex[:8]}", task_queue=queue
        )
        result = await result_or_task_failure(handle)
        state = await env.client.get_workflow_handle(limiter_id(key)).query(RateLimiterWorkflow.state)
    assert result.status == RunState.COMPLETED
    assert state.leases >= 2 and state.holds >= 1  # each attempt leased; the 429 held the fleet


async def test_a_limited_tool_waits_for_its_lease_and_the_run_says_so(
    env: WorkflowEnvironment, store: Any
) -> None:
    task = "Look up pay_ABC123 for me."
    lookup = ScriptedReply(
        tool_calls=[ScriptedToolCall(name="get_transaction", arguments={"transaction_id": "pay_ABC123"})]
    )
    key = "tool:merchant_support.get_transaction"
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    limits = {key: RateLimit(key=key, rpm=600)}
    script = {task: [lookup, ScriptedReply(content="pay_ABC123 is a captured payment.")]}
    async with _worker(env, queue, store, limits, script):
        await FleetLimiter(env.client, queue, limits).hold(key, 2.0, by="test")  # created on first use
        handle = await env.client.start_workflow(
            AgentWorkflow.run, AgentRequest(task=task), id=f"rl-{uuid.uuid4().hex[:8]}", task_queue=queue
        )
        result = await result_or_task_failure(handle)
        page = await handle.query(AgentWorkflow.progress, 0)
        state = await env.client.get_workflow_handle(limiter_id(key)).query(RateLimiterWorkflow.state)
    assert result.status == RunState.COMPLETED
    waits = [e.detail for e in page.events if e.kind == ProgressKind.RATE_LIMITED]
    assert state.leases == 1 and len(waits) == 1
    assert waits[0].startswith("waiting for merchant_support.get_transaction's Retry-After")


def test_a_budget_split_over_shards_never_adds_up_to_more_than_the_whole() -> None:
    limit = parse_limits("big=6001rpm,20003tpm,4shards")["big"]
    parts = [limit.shard(i) for i in range(limit.shards)]
    assert [p.key for p in parts] == ["big#0", "big#1", "big#2", "big#3"]
    assert sum(p.rpm for p in parts) <= 6001 and sum(p.tpm or 0 for p in parts) <= 20003
    assert {shard_of(f"run-{n}:t1", 4) for n in range(40)} == {0, 1, 2, 3}  # runs spread over them
    assert shard_of("run-7:t1", 4) == shard_of("run-7:t9", 4)  # one run's calls stay on one shard
    with pytest.raises(RateLimitConfigError, match="shards"):
        parse_limits("small=3rpm,4shards")
