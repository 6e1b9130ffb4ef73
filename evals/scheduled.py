"""The daily eval's work: EvalSuiteWorkflow's one activity, on the deployed worker.

It runs the agent's suite with the deployed worker's own code, prompts and models (each case a real
run, on a fresh store and a task queue of its own, so production data is never touched), stores the
result, and compares it with the stored baseline: a drop of 10 % or more is an incident, an
`eval.drift` event, the `agent_eval_drift` metric and a ticket through the agent's escalation tool.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog
from temporalio import activity

from evals.results import ResultStore, drifted
from evals.suite_models import EvalSuiteRequest, EvalSuiteResult

log = structlog.get_logger()


@dataclasses.dataclass
class EvalActivities:
    """Built by the worker with what it serves: its agents, models, and each agent's dependencies."""

    agents: Sequence[Any]  # core.agent.Agent
    models: Any  # activities.llm.registry.ModelRegistry
    deps: Mapping[str, Any]
    data_dir: Path | None = None  # None: AGENT_DATA_DIR (or .data), read when the eval runs

    @activity.defn(name="evals.run_suite")
    async def run_suite(self, request: EvalSuiteRequest) -> EvalSuiteResult:
        from evals.cases import load_dir
        from evals.report import summary
        from evals.runner import Runner, Variant
        from evals.variants import cases_dir, with_version

        agent = next((a for a in self.agents if a.name == request.agent), None)
        if agent is None:
            raise ValueError(f"this worker serves no agent {request.agent!r}")
        variant_agent = with_version(agent, request.prompt_version)
        label = f"{variant_agent.instructions.current}@{self.models.default}"
        wanted = set(request.categories)
        cases = [c for c in load_dir(cases_dir(agent.name)) if not wanted or c.category in wanted]
        with tempfile.TemporaryDirectory(prefix="evals-") as tmp:
            runner = Runner(activity.client(), Path(tmp), concurrency=2)
            results = await runner.run(Variant(label, variant_agent, self.models), cases, _heartbeat)
        doc = summary(label, results)
        data_dir = self.data_dir or Path(os.environ.get("AGENT_DATA_DIR", ".data"))
        store = ResultStore(data_dir / "evals")
        baseline = store.baseline(agent.name)
        rate = float(doc["pass_rate"])
        base_rate = float(baseline["pass_rate"]) if baseline is not None else None
        drift = base_rate is not None and drifted(base_rate, rate, request.drop)
        ticket = await self._incident(agent, base_rate or 0.0, doc) if drift else None
        stored = store.save(agent.name, {**doc, "drift": drift, "ticket_id": ticket})
        return EvalSuiteResult(
            agent=agent.name,
            label=label,
            cases=len(cases),
            pass_rate=rate,
            baseline_rate=base_rate,
            drift=drift,
            ticket_id=ticket,
            stored=stored.name,
            failing=tuple(r["id"] for r in doc["results"] if not r["passed"]),
        )

    async def _incident(self, agent: Any, baseline: float, doc: dict[str, Any]) -> str | None:
        """The drift incident: an event, a metric, and a ticket with the agent's escalation tool."""
        from core.toolspec import ToolContext

        failing = [r["id"] for r in doc["results"] if not r["passed"]]
        log.warning(
            "eval.drift", agent=agent.name, baseline=baseline, current=doc["pass_rate"], failing=failing[:20]
        )
        counter = activity.metric_meter().create_counter(
            "agent_eval_drift", "eval runs 10 % or more below their baseline"
        )
        counter.add(1, {"agent": agent.name})
        tool = agent.escalation.tool
        deps = self.deps.get(agent.name)
        if tool is None or deps is None:
            return None
        spec = agent.registry.get(tool)
        reason = f"eval drift: pass rate {doc['pass_rate']:.0%} against the baseline's {baseline:.0%}"
        args = spec.validate({"reason": reason, "summary": f"Failing cases: {', '.join(failing)[:4000]}"})
        info = activity.info()
        key = f"{info.workflow_id}:eval-drift"
        ctx = ToolContext(
            workflow_id=info.workflow_id or "", call_id="eval-drift", idempotency_key=key, deps=deps
        )
        result = await spec.handler(ctx, args)
        return str(getattr(result, "ticket_id", "") or "") or None


def _heartbeat(result: Any, done: int, total: int) -> None:
    activity.heartbeat(done, total)
