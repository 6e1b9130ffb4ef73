"""Run eval cases as real runs: AgentWorkflow on a Temporal server, on the production worker.

Each case gets a fresh store (the agent's seed) and its own task queue, so cases run side by side
without one's refund changing another's facts. The runner plays the human: it takes the case's
decision at each approval, answers or stops an escalation, and reads the rows the run created.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from activities.llm.registry import ModelRegistry
from activities.sqlite_store import SqliteStore
from client import AgentClient, RunHandle
from core.agent import Agent, AgentEnv
from core.apps import opened_deps
from core.models import (
    FINAL_STATES,
    AgentLimits,
    AgentRequest,
    AgentResult,
    ApproveSignal,
    CancelSignal,
    DenySignal,
    HumanReplySignal,
    ModelSettings,
    RunState,
    ToolCallRecord,
)
from core.worker_options import worker_options
from evals.cases import EvalCase, final_status
from evals.checks import Outcome, judge
from worker import build_worker

APPROVER = "eval-runner"
POLL_S = 0.05


@dataclass(frozen=True)
class Variant:
    """One side of an eval: an agent (at one prompt version) on one model."""

    label: str
    agent: Agent[Any]
    models: ModelRegistry
    model: str | None = None  # a name in `models`; None: the agent's (or the registry's) default

    @property
    def prompt_version(self) -> str:
        return self.agent.instructions.current


@dataclass(frozen=True)
class CaseResult:
    case: EvalCase
    outcome: Outcome
    reasons: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.reasons


Progress = Callable[[CaseResult, int, int], None]


@dataclass
class Runner:
    client: Client
    data_root: Path
    concurrency: int = 4
    timeout_s: float = 300.0
    strict: bool = False  # tests: the sandbox and a cache of 0, so every task replays (core/worker_options)

    async def run(
        self, variant: Variant, cases: Sequence[EvalCase], progress: Progress | None = None
    ) -> list[CaseResult]:
        gate = asyncio.Semaphore(self.concurrency)
        done = 0

        async def one(case: EvalCase) -> CaseResult:
            nonlocal done
            async with gate:
                result = await self.run_case(variant, case)
            done += 1
            if progress is not None:
                progress(result, done, len(cases))
            return result

        return list(await asyncio.gather(*(one(case) for case in cases)))

    async def run_case(self, variant: Variant, case: EvalCase) -> CaseResult:
        slug = _slug(f"{variant.label}-{case.id}")
        data_dir = self.data_root / slug / uuid.uuid4().hex[:8]
        data_dir.mkdir(parents=True)
        agent = variant.agent
        async with opened_deps([agent], AgentEnv(data_dir)) as deps:
            queue = f"eval-{uuid.uuid4().hex[:10]}"
            options = worker_options({}, strict=self.strict)
            async with build_worker(self.client, queue, [agent], variant.models, deps, **options):
                outcome = await self._drive(AgentClient(self.client, queue), variant, case, slug)
            store = store_of(deps.get(agent.name))
            outcome.rows = await rows_created(store, outcome.workflow_id) if store else {}
        return CaseResult(case, outcome, tuple(judge(case, outcome)))

    async def _drive(self, runs: AgentClient, variant: Variant, case: EvalCase, slug: str) -> Outcome:
        request = AgentRequest(
            task=case.task,
            agent=variant.agent.name,
            user_id=case.user,
            limits=AgentLimits(max_turns=case.max_turns),
            model=ModelSettings(model=variant.model),
            prompt_version=variant.prompt_version,  # the version under test, whatever the channels say
        )
        workflow_id = f"eval-{slug}-{uuid.uuid4().hex[:6]}"
        started = time.monotonic()
        handle = await runs.start(request, workflow_id=workflow_id, prompt_version=variant.prompt_version)
        human = _Human(runs, handle, case)
        try:
            await asyncio.wait_for(human.until_final(), self.timeout_s)
            result: AgentResult | None = await handle.result()
        except TimeoutError:
            await handle.terminate("eval case timed out")
            human.problems.append(f"no final result within {self.timeout_s:.0f} s")
            result = None
        latency = time.monotonic() - started
        return _outcome(case, workflow_id, result, human, latency)


class _Human:
    """Takes the case's decisions at the run's approvals, and answers or stops its escalation."""

    def __init__(self, runs: AgentClient, handle: RunHandle, case: EvalCase) -> None:
        self.runs, self.handle, self.case = runs, handle, case
        self.decisions: list[str] = []
        self.problems: list[str] = []
        self.waited_for_human = False
        self._answered: set[str] = set()
        self._escalation_handled = False

    async def until_final(self) -> None:
        # Polled, not awaited: awaiting the result lets a time-skipping server fire the deadlines.
        while True:
            try:
                status = await self.runs.status(self.handle)
            except (RPCError, WorkflowQueryFailedError):  # its first task not done yet, or a busy worker
                await asyncio.sleep(POLL_S)
                continue
            if status.state in FINAL_STATES:
                return
            for pending in status.pending:
                if pending.call_id not in self._answered:
                    self._answered.add(pending.call_id)
                    await self._decide(pending.call_id, pending.tool, pending.args_sha256)
            if status.state == RunState.ESCALATED and not self._escalation_handled:
                self._escalation_handled = self.waited_for_human = True
                await self._answer_escalation()
            await asyncio.sleep(POLL_S)

    async def _decide(self, call_id: str, tool: str, sha: str) -> None:
        index = len(self.decisions)
        planned = self.case.approvals[index] if index < len(self.case.approvals) else None
        if planned is None or planned.tool != tool:
            self.problems.append(f"unexpected approval asked for {tool} (denied)")
            self.decisions.append(f"deny {tool}")
            why = "the eval case expects no approval here"
            await self.runs.deny(self.handle, DenySignal(call_id=call_id, approver=APPROVER, reason=why))
            return
        self.decisions.append(f"{planned.decision} {tool}")
        if planned.decision == "approve":
            signal = ApproveSignal(call_id=call_id, approver=APPROVER, reason=planned.reason, args_sha256=sha)
            await self.runs.approve(self.handle, signal)
        else:
            denial = DenySignal(call_id=call_id, approver=APPROVER, reason=planned.reason)
            await self.runs.deny(self.handle, denial)

    async def _answer_escalation(self) -> None:
        reply = self.case.human_reply
        if reply is None:
            # The escalation is the outcome the case judges; a real run would wait days for a person.
            await self.runs.cancel(self.handle, CancelSignal(by=APPROVER, reason="eval: escalation reached"))
            return
        self.waited_for_human = False  # answered: the run goes on to its own final status
        signal = HumanReplySignal(responder=APPROVER, text=reply.text, resume=reply.resume)
        await self.runs.reply(self.handle, signal)


def _outcome(
    case: EvalCase, workflow_id: str, result: AgentResult | None, human: _Human, latency: float
) -> Outcome:
    calls: tuple[ToolCallRecord, ...] = ()
    if result is None:
        status, answer, turns, cost, prompt, completion = "timeout", "", 0, 0.0, 0, 0
    else:
        status = final_status(result.status, human.waited_for_human)
        answer, calls, turns, cost = result.answer, result.tool_calls, result.turns, result.cost_usd
        prompt, completion = result.usage.prompt_tokens, result.usage.completion_tokens
    return Outcome(
        case_id=case.id,
        workflow_id=workflow_id,
        status=status,
        answer=answer,
        calls=calls,
        turns=turns,
        cost_usd=cost,
        prompt_tokens=prompt,
        completion_tokens=completion,
        latency_s=latency,
        rows={},
        decisions=human.decisions,
        problems=human.problems,
    )


def store_of(deps: Any) -> SqliteStore | None:
    """The agent's SQLite store: its dependencies themselves, or their `store`."""
    if isinstance(deps, SqliteStore):
        return deps
    found = getattr(deps, "store", None)
    return found if isinstance(found, SqliteStore) else None


async def rows_created(store: SqliteStore, workflow_id: str) -> dict[str, int]:
    """Rows per table whose idempotency key is this run's (`workflow_id:call_id`): its side effects."""
    prefix = f"{workflow_id}:"

    def count(conn: sqlite3.Connection) -> dict[str, int]:
        counts: dict[str, int] = {}
        for table in sorted(store.TABLES - {"idempotency"}):
            columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            if "idempotency_key" not in columns:
                continue
            sql = f"SELECT COUNT(*) FROM {table} WHERE substr(idempotency_key, 1, ?) = ?"
            found = int(conn.execute(sql, (len(prefix), prefix)).fetchone()[0])
            if found:
                counts[table] = found
        return counts

    return await store.read(count)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]
