"""A workflow history read as plain data: its activities (input, attempts, result or error), signals, end.

Payloads are decoded as plain JSON, not as today's models, so histories recorded by older code read too.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.api.common.v1 import Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

Json = dict[str, Any]


@dataclass
class Act:
    """One scheduled activity and how it ended, from its history events."""

    activity_type: str
    input: Json
    scheduled: datetime
    attempts: int = 0
    result: Json | None = None
    error_type: str | None = None
    error: str | None = None
    ended: datetime | None = None

    @property
    def latency_ms(self) -> float | None:
        return (self.ended - self.scheduled).total_seconds() * 1000 if self.ended else None


# The client's converter in practice (codec keys, external payload store); plain pydantic by default.
_converter: ContextVar[DataConverter] = ContextVar("history_converter", default=pydantic_data_converter)


async def _decode(payloads: Payloads) -> Any:
    converter = _converter.get()
    values = await converter.decode(list(payloads.payloads)) if payloads.payloads else []
    return values[0] if values else None


def _failure(failure: Failure) -> tuple[str, str]:
    """(error class, message) of a failure: the application type, else the timeout, else the cause's."""
    if failure.HasField("application_failure_info") and failure.application_failure_info.type:
        return failure.application_failure_info.type, failure.message
    if failure.HasField("cause") and failure.cause.HasField("application_failure_info"):
        return _failure(failure.cause)
    if failure.HasField("timeout_failure_info"):
        return "TimeoutError", failure.message or "activity timed out"
    return "Failure", failure.message


async def read(
    history: WorkflowHistory, converter: DataConverter | None = None
) -> tuple[list[Act], list[Json], Json]:
    if converter is not None:
        _converter.set(converter)
    """Activities in schedule order, signals, and how the execution started and ended."""
    acts: dict[int, Act] = {}
    signals: list[Json] = []
    run: Json = {"execution": "running"}
    for event in history.events:
        await _apply(event, acts, signals, run)
    return list(acts.values()), signals, run


# The prefix of temporalio.contrib.workflow_streams' handler names (workflows/live.py).
STREAM_SIGNALS = "__temporal_workflow_stream_"


async def _apply(event: HistoryEvent, acts: dict[int, Act], signals: list[Json], run: Json) -> None:
    kind = event.WhichOneof("attributes") or ""
    attrs: Any = getattr(event, kind) if kind else None
    at = event.event_time.ToDatetime()
    if kind == "workflow_execution_started_event_attributes":
        run["request"] = await _decode(attrs.input)
    elif kind == "activity_task_scheduled_event_attributes":
        acts[event.event_id] = Act(attrs.activity_type.name, await _decode(attrs.input) or {}, at)
    elif kind == "activity_task_started_event_attributes":
        acts[attrs.scheduled_event_id].attempts = attrs.attempt
    elif kind == "activity_task_completed_event_attributes":
        act = acts[attrs.scheduled_event_id]
        act.result, act.ended = await _decode(attrs.result), at
    elif kind in ("activity_task_failed_event_attributes", "activity_task_timed_out_event_attributes"):
        act = acts[attrs.scheduled_event_id]
        (act.error_type, act.error), act.ended = _failure(attrs.failure), at
    elif kind == "workflow_execution_signaled_event_attributes":
        if attrs.signal_name.startswith(STREAM_SIGNALS):
            return  # the workflow stream's publishes (the model's live text), not a person's signal
        signals.append(
            {"at": at.isoformat(), "name": attrs.signal_name, "payload": await _decode(attrs.input)}
        )
    elif kind == "workflow_execution_completed_event_attributes":
        run.update(execution="completed", result=await _decode(attrs.result))
    elif kind == "workflow_execution_failed_event_attributes":
        run.update(execution="failed", error=_failure(attrs.failure))
    elif kind == "workflow_execution_terminated_event_attributes":
        run.update(execution="terminated", error=("Terminated", attrs.reason or "terminated"))
    elif kind == "workflow_execution_timed_out_event_attributes":
        run.update(execution="timed_out", error=("WorkflowTimeout", "the run hit its execution timeout"))
    elif kind == "workflow_execution_canceled_event_attributes":
        run.update(execution="canceled", error=("Canceled", "the run was cancelled in Temporal"))
    elif kind == "workflow_execution_continued_as_new_event_attributes":
        run["execution"] = "continued_as_new"
