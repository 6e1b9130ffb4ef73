"""Guardrails around every model call: budgets, a bounded context window, loop detection.

Workflow code: decisions are pure (workflows/budgets.py, context_window.py, loop_detect.py); the
only I/O is the `llm.summarize` activity that folds old turns into the running summary.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.llm.summarize import keep_facts
    from core import models as m
    from core.errors import NON_RETRYABLE_TYPE_NAMES
    from core.guardrails import BudgetUse, ExhaustedBudget, LoopState, Strategy, UserDayBudget
    from core.ledger import LedgerCall, ReserveResult
    from core.llm import SummarizeRequest, SummarizeResult
    from core.pricing import ModelPrice
    from workflows import budgets, context_window
    from workflows.activity_options import LLM_HEARTBEAT_TIMEOUT, LLM_RETRY, LLM_TIMEOUT
    from workflows.config import RunConfig
    from workflows.ledger import ledger_day
    from workflows.loop_detect import LoopDetector

SUMMARIZE_TIMEOUT = LLM_TIMEOUT
# A quick update on another workflow. A regular activity rather than a local one: the server then
# knows a call is in flight (and a time-skipping test server does not jump past the ledger's day).
LEDGER_TIMEOUT = timedelta(seconds=30)
LEDGER_RETRY = RetryPolicy(maximum_attempts=5, non_retryable_error_types=NON_RETRYABLE_TYPE_NAMES)


class Guard:
    def __init__(
        self, config: RunConfig, request: m.AgentRequest, started_at: datetime, carry: m.Carry | None
    ) -> None:
        self.budgets = config.budgets
        self.context = config.context
        self._settings = config.model
        self._agent, self._keep_exact = config.agent.name, config.agent.keep_exact
        self._override = self.budgets.price
        # A fork's wall clock starts with the fork; a continued run keeps its first run's start.
        self.started_at = carry.started_at if carry and request.fork is None else started_at
        self.spent = carry.spent if carry else BudgetUse()
        self.summary = carry.summary if carry else ""
        self.ratio = carry.ratio if carry else 1.0
        self.served_model = carry.served_model if carry else None
        self.loop = LoopDetector(**(carry.loop if carry else LoopState()).model_dump())
        self._prompt_estimate = 0
        self._estimate = budgets.CallEstimate(0, 0.0)
        self._user, self._user_budget = request.user_id, request.user_budget
        self._day = ledger_day(started_at)
        # An estimate until the first reply carries the price it was charged (the worker's quote).
        model = config.model.model or self.served_model
        self.price: ModelPrice = budgets.resolve_price(model, self._override)

    def grant_turns(self, turns: int) -> None:
        """A human resumed the run: fresh turn budget on top of what was used."""
        self.budgets = self.budgets.model_copy(update={"max_turns": self.spent.turns + turns})

    async def prompt(self, messages: list[m.ChatMessage]) -> list[m.ChatMessage]:
        """The next call's messages under max_context_tokens; folds old turns into the summary.

        Returns the new message list of the run (system, task, unfolded turns): folded turns are
        dropped from it, so the state carried across continue-as-new stays bounded too.
        """
        head, turns = messages[:2], context_window.group_turns(messages[2:])
        prompt, fold = context_window.build_prompt(
            head[0], head[1], self.summary, turns, self.context, self.ratio
        )
        if fold:
            await self._fold(fold)
            turns = turns[len(fold) :]
            prompt, _ = context_window.build_prompt(
                head[0], head[1], self.summary, turns, self.context, self.ratio
            )
        self._prompt_estimate = context_window.estimate_messages(prompt, self.context, self.ratio)
        self.prompt_messages = prompt
        return head + [msg for turn in turns for msg in turn]

    async def _fold(self, fold: list[list[m.ChatMessage]]) -> None:
        folded = tuple(msg for turn in fold for msg in turn)
        request = SummarizeRequest(
            workflow_id=workflow.info().workflow_id,
            agent=self._agent,
            previous_summary=self.summary,
            turns=folded,
            settings=self._settings,
            price=budgets.quote_of_override(self._override),
        )
        try:
            result = await workflow.execute_activity(
                "llm.summarize",
                request,
                result_type=SummarizeResult,
                start_to_close_timeout=SUMMARIZE_TIMEOUT,
                heartbeat_timeout=LLM_HEARTBEAT_TIMEOUT,
                retry_policy=LLM_RETRY,
                summary="fold old turns",
            )
        except ActivityError:
            # No model summary: fold in code, which keeps every identifier and argument verbatim.
            self.summary, _ = keep_facts(self.summary, self.summary, folded, self._keep_exact)
            return
        self.summary = result.summary
        self.spent = budgets.record_call(
            self.spent, result.usage, budgets.actual_cost(self.price, result.usage), turn=False
        )

    def before_call(self) -> ExhaustedBudget | None:
        """Which budget the next model call would break, judged on its estimate; None if it fits."""
        estimate = budgets.estimate_call(self._prompt_estimate, self._settings.max_output_tokens, self.price)
        self._estimate = estimate
        return budgets.check_before_call(self.budgets, self.spent, estimate, self.elapsed_s())

    async def reserve(self, call_id: str) -> ReserveResult | None:
        """Reserve the next call's estimate on the user's daily ledger; None when the run has none."""
        if self._user_budget is None:
            return None
        self._day = ledger_day(workflow.now())  # the reservation's day: its settlement goes there too
        result: ReserveResult = await workflow.execute_activity(
            "ledger.reserve",
            self._ledger_call(call_id, self._estimate.tokens, self._estimate.usd),
            result_type=ReserveResult,
            start_to_close_timeout=LEDGER_TIMEOUT,
            retry_policy=LEDGER_RETRY,
        )
        return result

    async def settle(self, call_id: str, usage: m.TokenUsage, cost_usd: float) -> None:
        """Replace the reservation by what the call actually cost (zero when it failed)."""
        if self._user_budget is None:
            return
        try:
            await workflow.execute_activity(
                "ledger.settle",
                self._ledger_call(call_id, usage.total, cost_usd),
                start_to_close_timeout=LEDGER_TIMEOUT,
                retry_policy=LEDGER_RETRY,
            )
        except ActivityError as err:
            # The call already happened and the run's own spend is exact; an unreachable or closed
            # ledger must not fail the run (its reservation expires by TTL). Logged for the operator.
            workflow.logger.error("budget.settle_failed", extra={"call_id": call_id, "error": str(err.cause)})

    def _ledger_call(self, call_id: str, tokens: int, usd: float) -> LedgerCall:
        return LedgerCall(
            user_id=self._user,
            day=self._day,
            limits=self._user_budget or UserDayBudget(),
            run_id=workflow.info().workflow_id,
            call_id=call_id,
            tokens=tokens,
            usd=usd,
        )

    def after_call(self, reply: m.LlmResponse) -> float:
        """Record a reply's spend (at the run's price table) and calibrate the token estimate."""
        charged = budgets.price_of_reply(reply, self._override)
        if charged is not None:
            self.price = charged
            self.served_model = self.served_model or reply.model or None
        elif self.served_model is None and reply.model and self._settings.model is None:
            # Replies recorded before quotes travelled with them: priced by the table, as they were.
            self.served_model = reply.model
            self.price = budgets.resolve_price(reply.model, self._override)
        cost = budgets.actual_cost(self.price, reply.usage)
        self.spent = budgets.record_call(self.spent, reply.usage, cost)
        if reply.usage.prompt_tokens > 0:
            self.ratio = context_window.calibrate(
                self._prompt_estimate, reply.usage.prompt_tokens, self.ratio
            )
        return cost

    def tool_calls(self, count: int) -> ExhaustedBudget | None:
        exhausted = budgets.check_tool_calls(self.budgets, self.spent, count)
        if exhausted is None:
            self.spent = budgets.record_tool_calls(self.spent, count)
        return exhausted

    def observation(self, tool: str, text: str, declared: Strategy | None) -> str:
        """The observation as the model will read it: truncated per the tool's strategy."""
        return context_window.truncate_for_tool(text, tool, self.context, declared)

    def elapsed_s(self) -> float:
        return max(0.0, (workflow.now() - self.started_at) / timedelta(seconds=1))

    def loop_state(self) -> LoopState:
        return LoopState(**self.loop.model_dump())
