"""Workflow-side metrics: pure helpers the loop calls with `workflow.metric_meter()`.

The workflow meter drops records while a workflow replays, so each is counted once per run however
often its history is replayed. Names and labels match the activity-side ones in activities/interceptors.py.
"""

from __future__ import annotations

from temporalio.common import MetricMeter


def record_run_end(meter: MetricMeter, status: str, turns: int, cost_usd: float, latency_ms: float) -> None:
    """One finished run: outcome, turns, USD and wall-clock latency."""
    meter.create_counter("agent_runs", "finished runs by outcome").add(1, {"status": status})
    meter.create_histogram("agent_run_turns", "turns per run").record(max(turns, 0), {"status": status})
    meter.create_histogram_float("agent_run_cost_usd", "USD per run", "usd").record(max(cost_usd, 0.0))
    latency = meter.create_histogram("agent_run_latency_ms", "run latency", "ms")
    latency.record(max(round(latency_ms), 0), {"status": status})


def record_approval(meter: MetricMeter, verdict: str, wait_s: float) -> None:
    """A decision on an irreversible call (`approved`, `denied`, `timeout`) and how long it waited."""
    meter.create_counter("agent_approvals", "approval decisions").add(1, {"verdict": verdict})
    wait = meter.create_histogram_float("agent_approval_wait_seconds", "time waiting for a human", "s")
    wait.record(max(wait_s, 0.0), {"verdict": verdict})


def record_loop_detected(meter: MetricMeter, kind: str) -> None:
    meter.create_counter("agent_loop_detections", "loops detected").add(1, {"kind": kind})


def record_escalation(meter: MetricMeter, reason: str) -> None:
    meter.create_counter("agent_escalations", "runs handed to a human").add(1, {"reason": reason})


def record_budget_stop(meter: MetricMeter, budget: str) -> None:
    """A guard stopped the run: `turns`, `tokens`, `usd`, `wall_clock`, `daily`."""
    meter.create_counter("agent_budget_stops", "runs stopped by a budget").add(1, {"budget": budget})
