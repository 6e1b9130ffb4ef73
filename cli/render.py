"""Human-readable lines for live progress; one line per change, never repeated."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from core.models import PendingApproval, RunStatus, ToolCallRecord, ToolOutcome

MARKS = {ToolOutcome.OK: "✓", ToolOutcome.ERROR: "✗", ToolOutcome.REJECTED: "✗", ToolOutcome.DENIED: "⊘"}


def approve_commands(workflow_id: str, item: PendingApproval, approver: str = "YOUR_NAME") -> list[str]:
    payload = json.dumps({"call_id": item.call_id, "approver": approver, "args_sha256": item.args_sha256})
    return [
        f"python starter.py approve {workflow_id} --call {item.call_id} --by {approver}",
        f"temporal workflow signal --workflow-id {workflow_id} --name approve --input '{payload}'",
    ]


def describe_call(record: ToolCallRecord) -> str:
    mark = MARKS[record.outcome]
    if record.outcome == ToolOutcome.OK:
        return f"  {mark} {record.tool} {record.latency_ms:.0f} ms"
    detail = record.error_type or record.outcome.value
    try:
        message = json.loads(record.observation).get("message", "")
    except (ValueError, AttributeError):
        message = ""
    return f"  {mark} {record.tool} {record.outcome.value}: {detail} {message}".rstrip()


@dataclass
class ProgressPrinter:
    """Turns successive `status` snapshots into new progress lines."""

    workflow_id: str
    seen_steps: int = 0
    seen_calls: int = 0
    seen_flight: set[str] = field(default_factory=set)
    seen_pending: set[str] = field(default_factory=set)
    show_commands: bool = True

    def lines(self, status: RunStatus) -> list[str]:
        # A snapshot may hold a turn's step and its calls and the next step: order them by turn.
        events: list[tuple[int, int, str]] = []
        for step in status.steps[self.seen_steps :]:
            thought = " ".join(step.thought.split())[:160]
            if step.actions:
                line = f"turn {step.turn}: {thought + ' → ' if thought else ''}{'; '.join(step.actions)}"
                events.append((step.turn, 0, line))
            elif step.error:
                events.append((step.turn, 0, f"turn {step.turn}: {step.error}"))
        for record in status.calls[self.seen_calls :]:
            events.append((record.turn, 1, describe_call(record)))
        out = [line for _, _, line in sorted(events, key=lambda e: (e[0], e[1]))]
        self.seen_steps = len(status.steps)
        self.seen_calls = len(status.calls)
        for label in status.in_flight:
            if label not in self.seen_flight:
                out.append(f"  … {label}" if label.startswith("thinking") else f"  → calling {label}…")
        self.seen_flight |= set(status.in_flight)
        for item in status.pending:
            if item.call_id not in self.seen_pending:
                self.seen_pending.add(item.call_id)
                out.append(f"  ⏸ waiting for approval of {item.tool} {json.dumps(item.args)}")
                out.append(
                    f"    call {item.call_id}, args_sha256 {item.args_sha256}, deadline {item.deadline}"
                )
                if self.show_commands:
                    out.append("    approve with either of:")
                    out.extend(f"      {cmd}" for cmd in approve_commands(self.workflow_id, item))
        return out
