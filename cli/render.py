"""Human-readable lines for live progress: one or more lines per progress event, never repeated."""

from __future__ import annotations

import json
from dataclasses import dataclass

from core.models import PendingApproval, ProgressPage
from core.progress import ProgressEvent, ProgressKind

MARKS = {"ok": "✓", "error": "✗", "rejected": "✗", "denied": "⊘"}
VERDICTS = {"approved": "✓ approved", "denied": "⊘ denied", "timeout": "⌛ no decision in time, denied"}


def approve_commands(workflow_id: str, item: PendingApproval, approver: str = "YOUR_NAME") -> list[str]:
    payload = json.dumps({"call_id": item.call_id, "approver": approver, "args_sha256": item.args_sha256})
    return [
        f"python starter.py approve {workflow_id} --call {item.call_id} --by {approver}",
        f"temporal workflow signal --workflow-id {workflow_id} --name approve --input '{payload}'",
    ]


def event_lines(event: ProgressEvent) -> list[str]:
    """The line(s) of one event; approvals waiting get theirs from the page (see ProgressPrinter)."""
    kind, turn = event.kind, event.turn
    if kind == ProgressKind.THINKING:
        return [f"  … thinking (turn {turn})"]
    if kind == ProgressKind.THOUGHT:
        return [_thought(event)]
    if kind == ProgressKind.CALL_START:
        return [f"  → calling {event.label}…"]
    if kind == ProgressKind.CALL_END:
        mark = MARKS.get(event.outcome or "", "✗")
        if event.outcome == "ok" and event.detail == "cached":  # a conversation's cache: no activity
            return [f"  {mark} {event.label} (cached)"]
        if event.outcome == "ok":
            return [f"  {mark} {event.label} {event.latency_ms or 0:.0f} ms"]
        return [f"  {mark} {event.label} {event.outcome}: {event.detail}".rstrip(" :")]
    if kind == ProgressKind.APPROVAL_DECIDED:
        return [f"  {VERDICTS.get(event.outcome or '', event.outcome)}: {event.label} ({event.detail})"]
    if kind == ProgressKind.RATE_LIMITED:
        return [f"  ⏳ {event.detail}"]
    if kind == ProgressKind.PLAN:
        if event.outcome == "refused":
            return [f"  ✗ plan refused before anything ran: {event.detail}"]
        return [f"  ☰ plan ({event.detail}): {event.label}"]
    if kind == ProgressKind.PLAN_STEP:
        return [f"  · step {event.label}: {event.outcome}{f' ({event.detail})' if event.detail else ''}"]
    if kind == ProgressKind.HUMAN_REPLY:
        return [f"  ↩ {event.label} replied ({event.outcome})"]
    return []  # waiting approvals, escalations and the end: the follower prints those with details


def _thought(event: ProgressEvent) -> str:
    took = f"  [{event.latency_ms or 0:.0f} ms, {event.tokens or 0} tokens]"
    if event.outcome and event.outcome != "unparseable":
        return f"turn {event.turn}: the model call failed ({event.outcome}): {event.detail}"
    if event.outcome == "unparseable":
        return f"turn {event.turn}: unparseable reply, the model is told{took}"
    if event.label:
        return f"turn {event.turn}: {event.detail + ' → ' if event.detail else ''}{event.label}{took}"
    return f"turn {event.turn}: answering{took}"


@dataclass
class ProgressPrinter:
    """Turns successive `progress` pages into new lines."""

    workflow_id: str
    show_commands: bool = True

    def lines(self, page: ProgressPage, event: ProgressEvent) -> list[str]:
        out = event_lines(event)
        if event.kind == ProgressKind.APPROVAL_WAITING:
            item = next((p for p in page.pending if p.call_id == event.detail), None)
            out.append(f"  ⏸ waiting for approval of {event.label} {json.dumps(item.args) if item else ''}")
            if item is not None:
                out.append(f"    call {item.call_id}, args_sha256 {item.args_sha256}")
                out.append(f"    deadline {item.deadline}")
                if self.show_commands:
                    out.append("    approve with either of:")
                    out.extend(f"      {cmd}" for cmd in approve_commands(self.workflow_id, item))
        return out
