"""ConversationWorkflow: one per thread (workflow id = the caller's thread id), a message at a time.

    send_message ─► inbox (queue or merge, never twice) ─► the single run's loop on
                    memory (earlier episodes, summary, recent exchanges) + the message ─► answer
    close signal or idle timeout ─► answer what is queued ─► memory.write_episode ─► result
    continue-as-new between messages, by history bytes (workflow.info()) or message count, with
    summary, recent exchanges, queued messages, answers, cache, audit and spend carried across.

Contracts in core/conversation.py; the per-message loop in workflows/conversation_turn.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    # Contracts and the engine's policies are pure and heavy: imported once, not per sandboxed run.
    from core import conversation as c
    from core import models as m
    from core.errors import AgentError, BudgetExceededError, InvalidInputError, NotFoundError
    from core.guardrails import BudgetUse
    from core.served import served_on
    from workflows import conversation_carry, episodes, signals
    from workflows.config import RunConfig, resolve
    from workflows.conversation_carry import Counters, Parts, as_run, policy_of
    from workflows.conversation_memory import ConversationMemory, exchange_ids
    from workflows.conversation_publishing import ConversationPublisher
    from workflows.conversation_turn import MessageTurn, TurnOutcome, message_budgets, with_budgets
    from workflows.conversation_views import progress_page
    from workflows.human import HumanLoop
    from workflows.inbox import Inbox, merged_text
    from workflows.progress import ProgressLog
    from workflows.state import compact
    from workflows.tool_cache import ToolCache


@workflow.defn(name="ConversationWorkflow")
class ConversationWorkflow:
    @workflow.init
    def __init__(self, request: c.ConversationRequest) -> None:
        self._request, self._refused = request, None
        self._config: RunConfig | None = None
        info = workflow.info()
        try:
            if request.thread_id != info.workflow_id:
                raise c.ThreadIdError("a conversation's workflow id must be its thread id")
            self._config = resolve(as_run(request, "conversation"), served_on(info.task_queue))
        except AgentError as err:  # answered in `run`, and to every message, as a typed refusal
            self._refused = f"{err.type_name}: {err.message}"
        self._policy = policy_of(self._config, request)
        carry = request.carry
        self._n = Counters.resume(carry, info.run_id, workflow.now())
        self._memory = ConversationMemory(self._policy, carry)
        self._inbox = Inbox(carry)
        self._cache = ToolCache(carry.cache if carry else ())
        self._progress = ProgressLog()
        limits = self._config.limits if self._config else m.AgentLimits()
        self._publisher = ConversationPublisher(request.user_id, self._agent)
        self._human = HumanLoop(limits, self._publish, self._progress, lambda: self._n.turns)
        if carry is not None:
            self._progress.restore(carry.progress, carry.progress_next_seq)
            self._human.gate.audit, self._human.gate.blocked = list(carry.audit), dict(carry.blocked)
        self._close: c.CloseSignal | None = None
        self._state = c.ConversationState.OPEN
        self._handing_over = False
        self._handled_this_run = 0

    @workflow.run
    async def run(self, request: c.ConversationRequest) -> c.ConversationResult:
        if self._config is None:
            self._state = c.ConversationState.CLOSED
            return self._result("refused", stored=False)
        if request.carry is None:
            limit = self._policy.episodes_in_prompt
            self._memory.episodes = await episodes.recall(self._agent, request.user_id, limit)
        reason = await self._serve(self._config)
        self._state = c.ConversationState.CLOSING
        stored = False
        if self._n.handled:
            key = f"{request.thread_id}:{self._n.opened_run}"
            episode = episodes.episode_of(self._memory, key, self._agent, request, self._n.handled)
            stored = await episodes.store(episode)
        self._state = c.ConversationState.CLOSED
        return self._result(reason, stored)

    async def _serve(self, config: RunConfig) -> str:
        """Answer messages until closed (with nothing left queued) or idle for too long."""
        while True:
            if not await self._wait_for_work():
                return "idle_timeout"
            if not self._inbox.queued and self._close is not None:
                return f"closed by {self._close.by}: {self._close.reason}"
            if self._handover_due():
                await self._continue_as_new()
            await self._handle(config, self._inbox.take(self._policy.double_texting))

    async def _wait_for_work(self) -> bool:
        if self._inbox.queued or self._close is not None:
            return True
        idle = self._n.last_activity + timedelta(seconds=self._policy.idle_timeout_s) - workflow.now()
        if idle <= timedelta(0):
            return False
        try:
            await workflow.wait_condition(
                lambda: bool(self._inbox.queued) or self._close is not None, timeout=idle
            )
        except TimeoutError:
            return bool(self._inbox.queued)
        return True

    async def _handle(self, config: RunConfig, batch: list[c.QueuedMessage]) -> None:
        self._state = c.ConversationState.BUSY
        text = merged_text(batch)
        outcome = await self._answer(config, text)
        calls = tuple(compact(call) for call in outcome.calls)
        message_ids = tuple(q.message_id for q in batch)
        ids = exchange_ids(text, outcome.answer, calls, config.agent.keep_exact)
        exchange = c.Exchange(
            message_ids=message_ids, user=text, assistant=outcome.answer, outcome=outcome.status, ids=ids
        )
        self._memory.add(exchange)
        reply = c.MessageReply(
            message_id=message_ids[0],
            status=c.ReplyStatus.ANSWERED,
            answer=outcome.answer,
            outcome=outcome.status,
            tool_calls=calls,
            cached_calls=sum(1 for call in calls if call.cached),
            prompt_tokens=outcome.usage.prompt_tokens,
            run=self._n.runs,
        )
        self._inbox.answer(reply, batch)
        self._n.handled += len(batch)
        self._handled_this_run += 1
        self._n.last_activity = workflow.now()
        self._state = c.ConversationState.OPEN

    async def _answer(self, config: RunConfig, text: str) -> TurnOutcome:
        """The agent's answer to one message, within the budgets of the message and the conversation."""
        n = self._n
        budgets = message_budgets(config.budgets, n.spent, self._request.budget)
        if budgets is None:
            answer = "This conversation has spent its budget; please start a new one."
            status = m.RunState.BUDGET_EXHAUSTED
            return TurnOutcome(status, answer, (), BudgetUse(), m.TokenUsage(), n.turns, n.escalations)
        request = as_run(self._request, text[: m.MAX_TASK_CHARS])
        parts = (self._human, self._progress, self._cache, lambda: None)
        turn = MessageTurn(with_budgets(config, budgets), request, *parts)
        outcome = await turn.handle(self._memory.render(text), n.turns, n.escalations)
        n.turns, n.escalations = outcome.turns, outcome.escalations
        n.spend(outcome.spent)
        return outcome

    def _handover_due(self) -> bool:
        info = workflow.info()
        return (
            info.get_current_history_size() >= self._policy.history_bytes_per_run
            or info.is_continue_as_new_suggested()
            or self._handled_this_run >= self._policy.messages_per_run
        )

    async def _continue_as_new(self) -> None:
        """Waiting senders are told "carried" (they await the answer on the next run); then hand over."""
        self._handing_over = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        parts = Parts(self._memory, self._inbox, self._cache, self._human.gate, self._progress)
        handed = conversation_carry.build(self._n, parts, workflow.now())
        workflow.continue_as_new(self._request.model_copy(update={"carry": handed}))

    def _publish(self) -> None:
        self._publisher.publish(bool(self._human.gate.pending))

    @property
    def _agent(self) -> str:
        return self._config.agent.name if self._config else self._request.agent or ""

    def _result(self, reason: str, stored: bool) -> c.ConversationResult:
        n = self._n
        return c.ConversationResult(
            thread_id=self._request.thread_id, agent=self._agent, close_reason=reason, handled=n.handled,
            runs=n.runs, episode_stored=stored, refused=self._refused, spent=n.spent,
        )  # fmt: skip

    # ── handlers: the conversation's public face (core/conversation.py lists them) ──

    @workflow.update(name="send_message")
    async def send_message(self, message: c.SendMessage) -> c.MessageReply:
        message_id = self._inbox.add(message.text, message.message_id)
        self._n.last_activity = workflow.now()
        if not message.wait:
            known = self._inbox.answers.get(message_id)
            return known or c.MessageReply(
                message_id=message_id, status=c.ReplyStatus.ACCEPTED, run=self._n.runs
            )
        return await self._reply_of(message_id)

    @send_message.validator
    def _validate_send(self, message: c.SendMessage) -> None:
        """Refused before anything is written, with a typed error the client maps to its class."""
        refusal = self._refusal(message)
        if refusal is not None:
            raise refusal.to_application_error()

    def _refusal(self, message: c.SendMessage) -> AgentError | None:
        if self._config is None:
            return c.ConversationClosedError(f"the conversation could not start ({self._refused})")
        if self._close is not None or self._state not in (c.ConversationState.OPEN, c.ConversationState.BUSY):
            return c.ConversationClosedError(f"conversation {self._request.thread_id} is closed")
        if message.message_id is not None and self._inbox.known(message.message_id):
            return None  # a retried send: answered with the first one's reply
        if not message.text.strip():
            return c.EmptyMessageError("the message is empty")
        limit = self._policy.max_message_chars
        if len(message.text) > limit:
            return c.MessageTooLargeError(
                f"the message has {len(message.text)} characters; the limit is {limit}"
            )
        if self._n.handled + len(self._inbox.queued) >= self._request.budget.max_messages:
            return BudgetExceededError(
                f"this conversation has taken its {self._request.budget.max_messages} messages"
            )
        return None

    @workflow.update(name="await_reply")
    async def await_reply(self, message_id: str) -> c.MessageReply:
        return await self._reply_of(message_id)

    @await_reply.validator
    def _validate_await(self, message_id: str) -> None:
        if not self._inbox.known(message_id):
            raise NotFoundError(
                f"no message {message_id!r} in this conversation's recent ones"
            ).to_application_error()

    async def _reply_of(self, message_id: str) -> c.MessageReply:
        await workflow.wait_condition(lambda: message_id in self._inbox.answers or self._handing_over)
        found = self._inbox.answers.get(message_id)
        return found or c.MessageReply(message_id=message_id, status=c.ReplyStatus.CARRIED, run=self._n.runs)

    @workflow.signal(name="close")
    def close(self, payload: Any) -> None:
        """Closes to new messages; those already queued are still answered, then the episode stored."""
        signal, error = signals.parse(c.CloseSignal, payload if payload is not None else {})
        if self._close is None:
            self._close = signal or c.CloseSignal(by="unknown", reason=error or "closed")

    @workflow.signal(name="approve")
    def approve(self, payload: Any) -> None:
        self._human.on_approve(payload)

    @workflow.signal(name="deny")
    def deny(self, payload: Any) -> None:
        self._human.on_deny(payload)

    @workflow.update(name="decide")
    def decide(self, request: m.DecideUpdate) -> m.DecideResult:
        rejected = self._human.decide(request, workflow.now())
        return m.DecideResult(accepted=rejected is None, call_id=request.call_id, verdict=request.verdict)

    @decide.validator
    def _validate_decide(self, request: m.DecideUpdate) -> None:
        refusal = self._human.refusal_of(request, workflow.now())
        if refusal is not None:  # as a single run's `decide`: the kind as details, for 409 or 410
            raise ApplicationError(refusal.message, refusal.kind, type=InvalidInputError.__name__)

    @workflow.signal(name="human_reply")
    def human_reply(self, payload: Any) -> None:
        self._human.on_reply(payload)

    @workflow.signal(name="cancel")
    def cancel(self, payload: Any) -> None:
        """Stops the message being handled after its current step; the conversation goes on."""
        self._human.on_cancel(payload)

    @workflow.query(name="status")
    def status(self) -> c.ConversationStatus:
        return c.ConversationStatus(
            thread_id=self._request.thread_id,
            agent=self._agent,
            state=self._state,
            run=self._n.runs,
            handled=self._n.handled,
            queued=tuple(q.message_id for q in self._inbox.queued),
            busy_with=self._inbox.busy,
            pending=tuple(self._human.gate.pending.values()),
            summary=self._memory.summary,
            recent=len(self._memory.recent),
            cached=len(self._cache),
            spent=self._n.spent,
            history_bytes=workflow.info().get_current_history_size(),
        )

    @workflow.query(name="progress")
    def progress(self, since: int) -> m.ProgressPage:
        return progress_page(self._human, self._progress, self._state, self._n.runs, since)
