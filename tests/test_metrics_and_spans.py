"""Prometheus metrics and OpenTelemetry spans: the workflow's metric helpers, the worker's metrics
endpoint after real runs, and a span for every model and tool activity."""

from __future__ import annotations

import re
import uuid
from typing import Any, cast

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.common import MetricMeter
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from agents.merchant_support import Store
from bench.tool_faults import ToolFaults
from core.models import RunState
from core.telemetry import metrics_bind_address, runtime_with_prometheus, tracing_interceptors
from tests.conftest import BIN, Harness, register_search_attributes
from tests.live_stack import free_port
from tests.test_agent_workflow import REFUND, answer, calls
from tests.test_observability import LOOKUP, MISSING, approve_first
from workflows import metrics


class FakeMeter:
    """Records (kind, name, value, labels) for every instrument it hands out."""

    def __init__(self) -> None:
        self.records: list[tuple[str, float, dict[str, Any]]] = []

    def __getattr__(self, kind: str) -> Any:
        meter = self

        class Instrument:
            def __init__(self, name: str, *_: Any) -> None:
                self.name = name

            def add(self, value: float, labels: dict[str, Any] | None = None) -> None:
                meter.records.append((self.name, value, labels or {}))

            record = add

        return Instrument


def test_workflow_metric_helpers_record_names_labels_and_values() -> None:
    fake = FakeMeter()
    meter = cast(MetricMeter, fake)
    metrics.record_run_end(meter, "completed", 3, 0.0123, 1500.4)
    metrics.record_approval(meter, "approved", 42.5)
    metrics.record_loop_detected(meter, "repeat")
    metrics.record_escalation(meter, "escalate_to_human")
    metrics.record_budget_stop(meter, "usd")
    assert fake.records == [
        ("agent_runs", 1, {"status": "completed"}),
        ("agent_run_turns", 3, {"status": "completed"}),
        ("agent_run_cost_usd", 0.0123, {}),
        ("agent_run_latency_ms", 1500, {"status": "completed"}),
        ("agent_approvals", 1, {"verdict": "approved"}),
        ("agent_approval_wait_seconds", 42.5, {"verdict": "approved"}),
        ("agent_loop_detections", 1, {"kind": "repeat"}),
        ("agent_escalations", 1, {"reason": "escalate_to_human"}),
        ("agent_budget_stops", 1, {"budget": "usd"}),
    ]


def test_metrics_port_is_validated() -> None:
    assert metrics_bind_address({}) is None
    assert metrics_bind_address({"AGENT_METRICS_PORT": "9464"}) == "127.0.0.1:9464"
    with pytest.raises(ValueError, match="AGENT_METRICS_PORT"):
        metrics_bind_address({"AGENT_METRICS_PORT": "http"})
    assert tracing_interceptors({}) == []


def scrape(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            total += float(match.group(2))
    return total


async def test_prometheus_endpoint_counts_runs_tool_calls_retries_approvals_and_tokens(store: Store) -> None:
    address = f"127.0.0.1:{free_port()}"  # the same helper the CLI tests use
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=pydantic_data_converter,
        runtime=runtime_with_prometheus(address),
    )
    try:
        await register_search_attributes(env.client)
        harness = Harness(env, store)
        refund = [calls(LOOKUP, MISSING), calls(REFUND), answer("Refunded re_ on pay_ABC124.")]
        transient = ToolFaults(fail_after_side_effect={"get_transaction": 1})
        results = [
            (await harness.run(f"metrics {n}", script, faults=faults, during=during))[0]
            for n, script, faults, during in (
                (1, [calls(LOOKUP), answer("ok")], None, None),
                (2, refund, None, approve_first),
                (3, [calls(LOOKUP), answer("ok")], transient, None),
            )
        ]
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://{address}/metrics")).text
    finally:
        await env.shutdown()
    assert scrape(text, "agent_tool_calls", tool="get_transaction", outcome="ok") == 3
    assert scrape(text, "agent_tool_calls", tool="get_transaction", outcome="NotFoundError") == 1
    assert scrape(text, "agent_tool_calls", tool="get_transaction", outcome="TransientError") == 1
    assert scrape(text, "agent_retries", error_type="TransientError") == 1
    assert scrape(text, "agent_retries_skipped", error_type="NotFoundError") == 1
    assert scrape(text, "agent_tool_calls", tool="initiate_refund", outcome="ok") == 1
    prompt_tokens = sum(r.usage.prompt_tokens for r in results)
    assert scrape(text, "agent_llm_tokens", kind="prompt") == prompt_tokens > 0
    llm_calls = sum(r.turns for r in results)
    assert scrape(text, "agent_activity_latency_ms_count", activity_type="llm.complete") == llm_calls
    # The workflow's own metrics: once per run, though every workflow task replayed its history.
    assert [r.status for r in results] == [RunState.COMPLETED] * 3
    assert scrape(text, "agent_runs", status="completed") == 3
    assert scrape(text, "agent_run_turns_sum", status="completed") == llm_calls
    assert scrape(text, "agent_approvals", verdict="approved") == 1
    assert scrape(text, "agent_approval_wait_seconds_count", verdict="approved") == 1
    assert scrape(text, "agent_run_cost_usd_sum") == pytest.approx(sum(r.cost_usd for r in results))
    assert (
        'activity_type="tool.merchant_support.get_transaction"' in text
        and "temporal_activity_execution_latency" in text
    )


async def test_otel_spans_for_every_llm_and_tool_activity(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    exporter = InMemorySpanExporter()
    current = trace.get_tracer_provider()
    if not isinstance(current, TracerProvider):
        current = TracerProvider()
        trace.set_tracer_provider(current)
    current.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setenv("AGENT_OTEL", "1")  # build_worker adds the TracingInterceptor from the env
    wf = f"otel-{uuid.uuid4().hex[:8]}"
    result, _ = await harness.run("otel lookup", [calls(LOOKUP), answer("ok")], workflow_id=wf)
    assert result.status == RunState.COMPLETED
    spans = [s for s in exporter.get_finished_spans() if (s.attributes or {}).get("temporalWorkflowID") == wf]
    names = [s.name for s in spans]
    assert names.count("RunActivity:llm.complete") == 2
    assert names.count("RunActivity:tool.merchant_support.get_transaction") == 1
