"""What each endpoint does, over the typed client (client/AgentClient): no HTTP in here.

Every refusal is an ApiError carrying a taxonomy class; every decision, and every refusal of one, is
written to the API's audit table (a refused update never reaches the run, so its history cannot show it).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from temporalio.client import (
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api import policy
from api.bodies import IDEMPOTENCY_KEY, Accepted, ApprovalView, Cancel, Decision, Reply, RunView, StartRun
from api.errors import ApiError
from api.feeds import Feeds
from api.thread_approvals import CONVERSATION, conversation_approvals
from api.tokens import AuditRow, Identity, TokenStore
from client import AgentClient, RunHandle
from core import search_attributes as sa
from core.agent import Agent
from core.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from core.models import AgentRequest, AuditEntry, CancelSignal, DecideUpdate, HumanReplySignal, RunState
from core.models import RunStatus as Status

STARTED_BY = "started_by"  # memo key: the identity whose token started the run
# The `decide` validator's refusal kinds (workflows/human.py: Refusal) → HTTP status.
REFUSAL_STATUS = {"not_pending": 409, "decided": 409, "hash_mismatch": 409, "expired": 410, "invalid": 400}
WAITING_QUERY = (
    f"ExecutionStatus = 'Running' AND {sa.AGENT_STATUS.name} = '{RunState.AWAITING_APPROVAL.value}'"
)


@dataclass(frozen=True)
class Described:
    handle: RunHandle
    running: bool
    user: str | None
    started_by: str | None


@dataclass
class Service:
    runs: AgentClient
    tokens: TokenStore
    agents: Mapping[str, Agent[Any]]
    ui_url: str
    namespace: str
    feeds: Feeds = field(init=False)

    def __post_init__(self) -> None:
        self.feeds = Feeds(self.runs)

    async def start(self, identity: Identity, body: StartRun, key: str | None) -> tuple[RunHandle, bool]:
        if key is not None and not re.match(IDEMPOTENCY_KEY, key):
            raise ApiError(400, InvalidInputError(f"Idempotency-Key must match {IDEMPOTENCY_KEY}"))
        if body.agent is not None and self.agents and body.agent not in self.agents:
            raise ApiError(404, NotFoundError(f"no agent {body.agent!r}; served: {sorted(self.agents)}"))
        if key is not None:
            with contextlib.suppress(ApiError):  # not found: start it (a racing twin joins it)
                return (await self.describe(key)).handle, False
        request = AgentRequest(task=body.task, agent=body.agent, user_id=body.user)
        handle = await self.runs.start(request, workflow_id=key, memo={STARTED_BY: identity.name})
        return handle, True

    async def describe(self, run_id: str) -> Described:
        if not re.match(IDEMPOTENCY_KEY, run_id):
            raise ApiError(404, NotFoundError(f"no run {run_id!r}"))
        handle = self.runs.handle(run_id)
        try:
            desc: WorkflowExecutionDescription = await handle.describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise ApiError(404, NotFoundError(f"no run {run_id!r}")) from None
            raise
        if desc.workflow_type == CONVERSATION:
            raise ApiError(404, NotFoundError(f"{run_id} is a conversation: /v1/threads/{run_id}"))
        started_by = await desc.memo_value(STARTED_BY, None)
        running = desc.status == WorkflowExecutionStatus.RUNNING
        user = desc.typed_search_attributes.get(sa.AGENT_USER)
        return Described(handle, running, user, started_by if isinstance(started_by, str) else None)

    async def view(self, run_id: str) -> RunView:
        run = await self.describe(run_id)
        base = {"run_id": run_id, "user": run.user, "started_by": run.started_by}
        if not run.running:
            try:
                result = await run.handle.result()
            except WorkflowFailureError as exc:  # terminated or timed out: no AgentResult to show
                return RunView(**base, agent="", state=RunState.FAILED, turn=0, answer=str(exc.cause)[:500])
            return RunView(**base, agent=result.agent, state=result.status, turn=result.turns,
                           answer=result.answer, result=result)  # fmt: skip
        status = await self.runs.status(run.handle)
        return RunView(
            **base, agent=status.agent, state=status.state, turn=status.turn, pending=status.pending
        )

    async def decide(self, identity: Identity, run_id: str, body: Decision) -> Accepted:
        try:
            self._require(identity, policy.APPROVER, "deciding an approval")
            run = await self.describe(run_id)
            await self._authorize(identity, run, body)
            update = DecideUpdate(
                call_id=body.call_id, approver=identity.name, verdict=body.verdict,
                reason=body.reason, args_sha256=body.args_sha256,
            )  # fmt: skip
            try:
                answered = await self.runs.decide(run.handle, update)
            except WorkflowUpdateFailedError as exc:
                raise refusal(exc) from None
            if not answered.accepted:  # the gate refused what the validator let through: audited there
                raise ApiError(409, InvalidInputError(f"call {body.call_id} was not accepted"))
        except ApiError as refused:
            self.audit(identity, f"decide.{body.verdict}", run_id, body.call_id, refused)
            raise
        self.audit(identity, f"decide.{body.verdict}", run_id, body.call_id, None)
        return Accepted(run_id=run_id, by=identity.name, detail={"call_id": body.call_id})

    async def _authorize(self, identity: Identity, run: Described, body: Decision) -> None:
        """Four eyes and the agent's roles, for the call as the run holds it; a call that is not
        pending goes on to the update, whose validator says why (409 or 410)."""
        if not run.running:
            result = await run.handle.result()
            raise _not_pending(body.call_id, result.audit)
        status: Status = await self.runs.status(run.handle)
        item = next((p for p in status.pending if p.call_id == body.call_id), None)
        if item is None:
            return
        try:
            agent = self.agents.get(status.agent)
            policy.check_may_decide(identity, agent, item.tool, item.args, (run.started_by, run.user))
        except PermissionDeniedError as err:
            raise ApiError(403, err) from None

    async def reply(self, identity: Identity, run_id: str, body: Reply) -> Accepted:
        self._require(identity, policy.APPROVER, "replying to an escalation")
        run = await self.describe(run_id)
        status = await self._running_status(run)
        if status.state != RunState.ESCALATED or status.escalation is None:
            raise ApiError(409, InvalidInputError(f"run {run_id} is {status.state.value}, not escalated"))
        signal = HumanReplySignal(responder=identity.name, text=body.text, resume=body.resume)
        await self.runs.reply(run.handle, signal)
        return Accepted(run_id=run_id, by=identity.name)

    async def cancel(self, identity: Identity, run_id: str, body: Cancel) -> Accepted:
        run = await self.describe(run_id)
        if identity.name != run.started_by:
            self._require(identity, policy.APPROVER, "cancelling a run someone else started")
        await self._running_status(run)
        await self.runs.cancel(run.handle, CancelSignal(by=identity.name, reason=body.reason))
        return Accepted(run_id=run_id, by=identity.name)

    async def approvals(self, limit: int = 200) -> list[ApprovalView]:
        """Every pending approval across runs and conversations: visibility names the runs, each
        run's query the calls."""
        views: list[ApprovalView] = []
        async for execution in self.runs.client.list_workflows(WAITING_QUERY, limit=limit):
            if execution.workflow_type == CONVERSATION:
                started_by = await execution.memo_value(STARTED_BY, None)
                starter = started_by if isinstance(started_by, str) else None
                views.extend(await conversation_approvals(self, execution, starter))
                continue
            run = await self.describe(execution.id)
            try:
                status = await self.runs.status(run.handle) if run.running else None
            except (WorkflowQueryFailedError, RPCError):
                status = None  # its worker does not answer now: listed again once it does
            if status is None:
                continue
            agent = self.agents.get(status.agent)
            for item in status.pending:
                views.append(ApprovalView(
                    run_id=execution.id, agent=status.agent, user=run.user, started_by=run.started_by,
                    call_id=item.call_id, tool=item.tool, args=item.args, args_sha256=item.args_sha256,
                    requested_at=item.requested_at, deadline=item.deadline,
                    roles_needed=policy.roles_needed(agent, item.tool, item.args),
                    temporal_ui=self.ui_link(execution.id), decisions=f"/v1/runs/{execution.id}/decisions",
                ))  # fmt: skip
        return views

    def ui_link(self, run_id: str) -> str:
        return f"{self.ui_url}/namespaces/{quote(self.namespace)}/workflows/{quote(run_id)}"

    async def _running_status(self, run: Described) -> Status:
        if not run.running:
            raise ApiError(409, InvalidInputError(f"run {run.handle.id} has ended"))
        return await self.runs.status(run.handle)

    def _require(self, identity: Identity, role: str, what: str) -> None:
        if role not in identity.roles:
            raise ApiError(403, PermissionDeniedError(f"{what} needs the role {role}"))

    def audit(self, who: Identity, action: str, run_id: str, call_id: str, err: ApiError | None) -> None:
        failure = (err.error.type_name, err.error.message) if err else (None, None)
        row = AuditRow(who.name, action, run_id, call_id, err.status if err else 200, *failure)
        self.tokens.record(row)


def refusal(exc: WorkflowUpdateFailedError) -> ApiError:
    """The `decide` validator's refusal, by its kind (workflows/human.py: Refusal)."""
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.details:
        kind = str(cause.details[0])
        return ApiError(REFUSAL_STATUS.get(kind, 409), InvalidInputError(cause.message))
    return ApiError(409, InvalidInputError(str(cause)[:500]))


def _not_pending(call_id: str, audit: tuple[AuditEntry, ...]) -> ApiError:
    """The call of a run that has ended, from its audit trail (as the validator would say)."""
    ends = [a for a in audit if a.call_id == call_id and a.event in ("approved", "denied", "timeout")]
    if ends and ends[-1].event == "timeout" and ends[-1].reason == "approval_timeout":
        return ApiError(410, InvalidInputError(f"the approval of call {call_id} has expired"))
    what = "was already decided" if ends else "is not pending"
    return ApiError(409, InvalidInputError(f"call {call_id} {what}; the run has ended"))
