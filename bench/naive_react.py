"""The naive ReAct baseline, run in-process: exactly the loop the published benchmark criticises.

Global retry budget per task, a step cap, the tool name taken from the model at run time (`TOOLS[name]`),
and every error retried the same way — a hallucinated name's KeyError just like a timeout.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from activities.llm.scripted import Policy, ScriptedReply, completion_body
from bench.agents import BENCH
from bench.faults import FaultPlan, run_with_faults
from bench.report import RetryRecord, TaskRecord, failure_reason
from bench.tasks import BenchTask
from core.errors import AgentError
from core.toolspec import ToolContext, ToolSpec
from workflows import observations

RETRY_BUDGET = 6  # per task, shared by every call
STEP_CAP = 10
RETRIES_PER_CALL = 3
BACKOFF_S = 0.5  # doubled after each retry, like the ToolSpec policy, but Retry-After is ignored

Sleep = Callable[[float], Awaitable[None]]


class BudgetExhausted(Exception):
    pass


def taxonomy_name(exc: BaseException) -> str:
    """The class our taxonomy would give the error (the naive agent itself never asks)."""
    if isinstance(exc, AgentError):
        return exc.type_name
    if isinstance(exc, KeyError):
        return "ToolNotFoundError"
    if isinstance(exc, ValueError | TypeError | ValidationError):
        return "InvalidInputError"
    return "TransientError"


@dataclass
class NaiveRun:
    task: BenchTask
    plan: FaultPlan
    tools: dict[str, ToolSpec]
    sleep: Sleep = asyncio.sleep
    retries_left: int = RETRY_BUDGET
    retries: list[RetryRecord] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    async def attempt(self, call: dict[str, Any], number: int) -> BaseModel:
        """One attempt of a call, resolved at run time: the model's name indexes the tool table."""
        spec = self.tools[call["function"]["name"]]
        raw = call["function"]["arguments"]
        args = spec.args_model(**json.loads(raw))
        ctx = ToolContext(f"naive-{self.task.task_id}", call["id"], call["id"], None)
        outcome = await run_with_faults(spec, self.plan, ctx, args, number)
        if isinstance(outcome, AgentError):
            raise outcome
        return outcome

    async def execute(self, call: dict[str, Any]) -> tuple[str, str | None]:
        """Run a call, retrying every error; returns (observation, error class or None)."""
        pending: list[RetryRecord] = []
        for number in range(1, RETRIES_PER_CALL + 2):
            try:
                result = await self.attempt(call, number)
            except Exception as exc:
                error_type = taxonomy_name(exc)
                self.errors[error_type] += 1
                if number > RETRIES_PER_CALL:
                    self.retries += pending  # the call never succeeded: every retry on it was wasted
                    return observations.failure(type(exc).__name__, str(exc)[:300]), error_type
                if self.retries_left == 0:
                    self.retries += pending
                    raise BudgetExhausted(error_type) from None
                self.retries_left -= 1
                pending.append(
                    RetryRecord(
                        call=call["id"], tool=call["function"]["name"], error_type=error_type, useful=False
                    )
                )
                await self.sleep(BACKOFF_S * 2 ** (number - 1))
                continue
            self.retries += [r.model_copy(update={"useful": True}) for r in pending]
            return observations.success(result.model_dump(mode="json")), None
        raise AssertionError("unreachable")


def _assistant(reply: ScriptedReply, step: int) -> dict[str, Any]:
    calls = [
        {
            "id": f"t{step}-{n}",
            "type": "function",
            "function": {
                "name": c.name,
                "arguments": c.arguments
                if isinstance(c.arguments, str)
                else json.dumps(c.arguments, sort_keys=True),
            },
        }
        for n, c in enumerate(reply.tool_calls, start=1)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
    if calls:
        message["tool_calls"] = calls
    return message


def _opening(task: BenchTask) -> list[dict[str, Any]]:
    """The same first two messages AgentWorkflow sends."""
    return [
        {"role": "system", "content": BENCH.instructions.text() or ""},
        {"role": "user", "content": BENCH.instructions.task_template.format(task=task.prompt)},
    ]


async def run_naive(
    task: BenchTask, plan: FaultPlan, model: Policy, tools: dict[str, ToolSpec], sleep: Sleep = asyncio.sleep
) -> TaskRecord:
    run = NaiveRun(task, plan, tools, sleep)
    messages = _opening(task)
    started, tokens, status, answer, last_error = time.perf_counter(), 0, "step_cap", "", None
    steps = 0
    try:
        for steps in range(1, STEP_CAP + 1):
            reply = model.reply(messages, set(tools))
            usage = completion_body(reply, messages)["usage"]
            tokens += usage["prompt_tokens"] + usage["completion_tokens"]
            messages.append(_assistant(reply, steps))
            if not reply.tool_calls:
                status, answer = "completed", reply.content
                break
            for call in messages[-1]["tool_calls"]:
                observation, error = await run.execute(call)
                last_error = error or last_error
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": observation})
    except BudgetExhausted as exc:
        status, last_error = "retry_budget_exhausted", str(exc)
    return TaskRecord(
        agent="naive",
        hallucination_rate=plan.hallucination_rate,
        task_id=task.task_id,
        kind=task.kind,
        success=status == "completed" and task.expected in answer,
        status=status,
        failure_reason=failure_reason(status, answer, task.expected, last_error),
        steps=steps,
        latency_ms=(time.perf_counter() - started) * 1000,
        tokens=tokens,
        retries=run.retries,
        errors=dict(run.errors),
        answer=answer,
    )
