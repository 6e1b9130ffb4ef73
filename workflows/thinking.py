"""One model call of the loop: a bounded prompt, budgets checked before it, its spend recorded after."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from core import models as m
    from core.errors import BudgetExceededError, InvalidInputError
    from core.progress import ProgressKind
    from core.ratelimit import RATE_LIMIT_WAIT_SIGNAL, RateLimitWait
    from workflows import budgets, events, metrics, observations, prompts
    from workflows.activity_options import LLM_HEARTBEAT_TIMEOUT, LLM_RETRY, LLM_TIMEOUT, failure_of
    from workflows.config import RunConfig
    from workflows.guard import Guard
    from workflows.limits import Limits
    from workflows.outcome import Stop, partial_answer
    from workflows.progress import ProgressLog
    from workflows.state import AgentState
    from workflows.tool_calls import short


class Thinker:
    def __init__(
        self, config: RunConfig, state: AgentState, guard: Guard, limits: Limits, progress: ProgressLog
    ) -> None:
        self._config, self._state, self._guard = config, state, guard
        self._limits, self._progress = limits, progress
        # A worker's call waits for the fleet's rate limit: say so (a signal, so no command changes).
        workflow.set_signal_handler(RATE_LIMIT_WAIT_SIGNAL, self._on_rate_limit_wait)

    def _on_rate_limit_wait(self, payload: Any) -> None:
        waiting = RateLimitWait.model_validate(payload)
        sentence = waiting.sentence()
        if self._state.thinking is not None:
            self._state.thinking = sentence
        self._progress.add(
            workflow.now(), ProgressKind.RATE_LIMITED, self._state.turn, waiting.key, detail=sentence
        )

    async def think(self, turn: int, tools: bool = True) -> m.LlmResponse:
        """One model call; `tools=False` offers none (a planner or answer-writing call of plan mode)."""
        state, guard = self._state, self._guard
        state.messages = await guard.prompt(state.messages)
        exhausted = guard.before_call()
        if exhausted is not None:
            await self._limits.budget_stop(exhausted)
        # Shown before the ledger's reservation, an activity: in the task of the item before it, so
        # a reader's poll carries both rather than the second waiting for the next poll.
        self._progress.add(workflow.now(), ProgressKind.THINKING, turn)
        granted = await guard.reserve(f"llm-{turn}")
        if granted is not None and not granted.granted:
            metrics.record_budget_stop(workflow.metric_meter(), "daily")
            events.warn("budget.exhausted", turn, which="daily", reason=granted.reason)
            answer = f"{granted.reason} {partial_answer(turn - 1, state.calls)}"
            raise Stop(m.RunState.BUDGET_EXHAUSTED, answer, BudgetExceededError.__name__)
        started = workflow.now()
        reply = await self._call(turn, self.request(turn, guard.prompt_messages, tools))
        cost = guard.after_call(reply)
        await guard.settle(f"llm-{turn}", reply.usage, cost)
        state.add_usage(reply.usage, cost)
        self._record(turn, reply, (workflow.now() - started).total_seconds() * 1000)
        return reply

    def request(self, turn: int, prompt: list[m.ChatMessage], tools: bool = True) -> m.LlmRequest:
        """The agent's tools and its system prompt of this version go by reference: the worker puts them
        back (activities/llm/expand.py), and history keeps ~2.5 KB less per turn than with their text."""
        config = self._config
        head = prompt[0] if prompt else None
        by_version = head is not None and head.role == "system" and head.content == self.system_prompt()
        return m.LlmRequest(
            workflow_id=workflow.info().workflow_id,
            turn=turn,
            messages=tuple(prompt[1:] if by_version else prompt),
            agent=config.agent.name,
            tools_of_agent=tools and bool(config.agent.tools),
            settings=config.model,
            prompt_version=config.prompt_version,
            system_by_version=by_version,
            price=budgets.quote_of_override(config.budgets.price),
            live=self._progress.streamed,
        )

    def system_prompt(self) -> str:
        return self._config.agent.instructions.text(self._config.prompt_version) or ""

    async def _call(self, turn: int, request: m.LlmRequest) -> m.LlmResponse:
        self._state.thinking = f"thinking (turn {turn})"
        try:
            reply: m.LlmResponse = await workflow.execute_activity(
                "llm.complete",
                request,
                result_type=m.LlmResponse,
                start_to_close_timeout=LLM_TIMEOUT,
                heartbeat_timeout=LLM_HEARTBEAT_TIMEOUT,
                retry_policy=LLM_RETRY,
                summary=f"turn {turn}",
            )
        except ActivityError as err:
            error_type, message, _ = failure_of(err)
            await self._guard.settle(f"llm-{turn}", m.TokenUsage(), 0.0)  # release the reservation
            self._state.steps.append(m.TraceStep(turn=turn, thought="", error=f"{error_type}: {message}"))
            self._progress.add(workflow.now(), ProgressKind.THOUGHT, turn, outcome=error_type, detail=message)
            answer = f"The run stopped because the model call failed ({error_type}): {message}"
            raise Stop(m.RunState.FAILED, answer, error_type) from None
        finally:
            self._state.thinking = None
        return reply

    def _record(self, turn: int, reply: m.LlmResponse, latency_ms: float) -> None:
        step = m.TraceStep(
            turn=turn,
            thought=reply.content,
            actions=tuple(f"{c.name}({short(c.arguments)})" for c in reply.tool_calls),
            tokens=reply.usage,
            cost_usd=reply.cost_usd,
            latency_ms=latency_ms,
            error=reply.parse_error or reply.rejected,
        )
        self._state.steps.append(step)
        # The reply's last text, in the task of its THOUGHT (after the ledger's settle): one poll
        # carries both, in this order.
        self._progress.show_text(reply.live_tail)
        outcome = "rejected" if reply.rejected else "unparseable" if reply.parse_error else None
        self._progress.add(
            workflow.now(),
            ProgressKind.THOUGHT,
            turn,
            "; ".join(step.actions),
            outcome=outcome,
            latency_ms=round(step.latency_ms, 1),
            tokens=reply.usage.total,
            detail=" ".join(reply.content.split())[:200],
        )


def nudge_for(reply: m.LlmResponse) -> str | None:
    """What the model is told when its reply cannot be acted on (bad output is data), else None."""
    if reply.rejected is not None:
        refusal = observations.failure(InvalidInputError.__name__, reply.rejected)
        return prompts.REJECTED_REPLY.format(why=refusal)
    if reply.parse_error is None and (reply.tool_calls or reply.content.strip()):
        return None
    if reply.finish_reason == "length":
        return prompts.CUT_OFF_REPLY
    if reply.parse_error is not None:
        return prompts.UNPARSEABLE_REPLY.format(error=reply.parse_error)
    return prompts.EMPTY_REPLY
