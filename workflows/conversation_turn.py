"""One message of a conversation, handled by the single run's loop (workflows/loop.py: Loop).

Each message gets what a single run gets: its own state, Guard (budgets, bounded context, loop
detector), Limits, Escalator and critic, with the conversation's HumanLoop (so approvals and replies
reach it by the run's own signals), and a ToolRunner that answers cacheable reads from the
conversation's cache. Turn numbers, and so tool call ids and idempotency keys, continue across
messages: a second message's side effect never shares a key with the first's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core import models as m
    from core.conversation import ConversationBudget
    from core.errors import AgentError
    from core.guardrails import BudgetUse, RunBudgets
    from core.progress import ProgressKind
    from workflows.config import RunConfig
    from workflows.escalation import Escalator
    from workflows.guard import Guard
    from workflows.human import HumanLoop
    from workflows.limits import Limits
    from workflows.loop import Loop
    from workflows.outcome import Stop, partial_answer
    from workflows.progress import InFlight, ProgressLog
    from workflows.state import AgentState
    from workflows.thinking import Thinker
    from workflows.tool_cache import CachingToolRunner, ToolCache


@dataclass(frozen=True)
class TurnOutcome:
    status: m.RunState
    answer: str
    calls: tuple[m.ToolCallRecord, ...]
    spent: BudgetUse
    usage: m.TokenUsage
    turns: int  # the conversation's turn count after this message
    escalations: int


@dataclass
class MessageTurn:
    config: RunConfig
    request: m.AgentRequest  # this message as a single run's request (task = the message)
    human: HumanLoop
    progress: ProgressLog
    cache: ToolCache
    on_change: Callable[[], None]

    async def handle(self, task: str, turns_before: int, escalations: int) -> TurnOutcome:
        """Run the loop on `task` (memory and the message, rendered) until the message is answered."""
        config = self.config
        system, opening = config.opening(task)
        state = AgentState.begin(system, opening, config.limits.max_turns)
        state.turn = state.run_first_turn = turns_before
        state.turn_limit = turns_before + config.limits.max_turns
        state.escalations = escalations
        guard = Guard(config, self.request, workflow.now(), None)
        self.human.cancel, self.human.reply, self.human.escalation = None, None, None
        try:
            await self._loop(state, guard)
            raise Stop(m.RunState.BUDGET_EXHAUSTED, partial_answer(state.turn, state.calls), "max_turns")
        except Stop as stop:
            status, answer = stop.status, stop.answer
        except AgentError as err:  # the single run's rule: our taxonomy ends the message, typed
            status, answer = m.RunState.FAILED, f"The message stopped ({err.type_name}): {err.message}"
        self.progress.add(workflow.now(), ProgressKind.ENDED, state.turn, status.value)
        return TurnOutcome(
            status=status,
            answer=answer,
            calls=tuple(state.calls),
            spent=guard.spent,
            usage=state.usage,
            turns=state.turn,
            escalations=state.escalations,
        )

    async def _loop(self, state: AgentState, guard: Guard) -> None:
        config = self.config
        escalator = Escalator(config, self.request, state, self.human, guard, self.on_change)
        limits = Limits(guard, state, escalator)
        in_flight = InFlight(self.progress, workflow.now, lambda: state.turn)
        runner = CachingToolRunner(
            self.cache, config.agent, self.human, in_flight, limits, self.request.user_id
        )
        thinker = Thinker(config, state, guard, limits, self.progress)
        loop = Loop(config, state, guard, limits, escalator, runner, thinker, self._calls_done)
        await escalator.on_task(self.request.task)
        await loop.turns(_between_messages_only)

    def _calls_done(self, records: list[m.ToolCallRecord]) -> None:
        for record in records:
            detail = "cached" if record.cached else record.error_type or ""
            self.progress.add(
                workflow.now(),
                ProgressKind.CALL_END,
                record.turn,
                record.tool,
                outcome=record.outcome.value,
                latency_ms=round(record.latency_ms, 1),
                detail=detail,
            )
        self.on_change()


async def _between_messages_only(guard: Guard, prompt_version: str) -> None:
    """A conversation continues as new between messages (workflows/conversation.py), never inside one."""


def message_budgets(
    per_message: RunBudgets, conversation: BudgetUse, limit: ConversationBudget
) -> RunBudgets | None:
    """This message's budgets, capped by what the conversation has left; None when nothing is left."""
    tokens_left = limit.max_tokens - conversation.tokens
    usd_left = limit.max_cost_usd - conversation.cost_usd
    if tokens_left < 1000 or usd_left <= 0:
        return None
    tokens = min(per_message.max_tokens, tokens_left)
    return per_message.model_copy(
        update={"max_tokens": tokens, "max_cost_usd": min(per_message.max_cost_usd, usd_left)}
    )


def with_budgets(config: RunConfig, budgets: RunBudgets) -> RunConfig:
    return dataclasses.replace(config, budgets=budgets)
