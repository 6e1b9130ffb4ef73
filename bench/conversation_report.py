"""The conversation bench's figures, from the histories of every run of one conversation (pure).

Each message is sent and awaited in turn, so the n-th completed `send_message` update closes message n:
the bytes of every event up to it (all runs, continue-as-new start events and carries included) are
the conversation's size after n messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import mean, median
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

TOLERANCE = 0.15
# Run sizes here are sums of each event's protobuf size; the server counts its own encoding, which
# differs by a fraction of a percent (a run that handed over at the server's 1,000,000 B sums to ~998 KB).
SIZE_MEASURE = 0.01


def bytes_after_each_message(histories: list[WorkflowHistory]) -> list[int]:
    """Cumulative history bytes when each message's update completed, in order."""
    total, marks = 0, []
    for history in histories:
        for event in history.events:
            total += event.ByteSize()
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
                marks.append(total)
    return marks


def run_sizes(histories: list[WorkflowHistory]) -> list[int]:
    return [sum(event.ByteSize() for event in h.events) for h in histories]


@dataclass(frozen=True)
class Window:
    first: int  # message numbers, 1-based, inclusive
    last: int
    bytes_per_message: float
    prompt_tokens_max: int


def windows(marks: list[int], prompts: list[int], start: int, size: int) -> list[Window]:
    """Bytes per message over windows of `size` messages from message `start` on."""
    out: list[Window] = []
    first = start
    while first + size - 1 <= len(marks):
        last = first + size - 1
        per = (marks[last - 1] - marks[first - 2]) / size if first >= 2 else marks[last - 1] / size
        out.append(Window(first, last, per, max(prompts[first - 1 : last])))
        first = last + 1
    return out


def acceptance(
    spans: list[Window], sizes: list[int], threshold: int, burst: dict[str, Any], prompts: list[int]
) -> dict[str, bool]:
    per = [w.bytes_per_message for w in spans]
    centre = median(per) if per else 0.0
    finished = sizes[:-1]
    early = prompts[9:60] or prompts
    return {
        "bytes_per_message_within_15pct": bool(per)
        and all(abs(p - centre) <= TOLERANCE * centre for p in per),
        "continued_as_new_at_threshold": bool(finished)
        and all(
            threshold * (1 - SIZE_MEASURE) <= s <= threshold + 4 * max(per, default=0.0) for s in finished
        ),
        "prompt_tokens_bounded": bool(prompts) and max(prompts[9:]) <= (1 + TOLERANCE) * max(early),
        "burst_each_answered_once": bool(burst.get("answered_once")),
        "burst_queued_across_continue_as_new": int(burst.get("runs", 0)) > 1,
    }


def render(
    spans: list[Window], sizes: list[int], threshold: int, burst: dict[str, Any], ok: dict[str, bool]
) -> list[str]:
    per = [w.bytes_per_message for w in spans]
    lines = ["messages     bytes/message   prompt tokens (max)"]
    lines += [
        f"{w.first:>4}-{w.last:<6}  {w.bytes_per_message:>12,.0f}   {w.prompt_tokens_max:>8}" for w in spans
    ]
    if per:
        centre = median(per)
        low, high = min(per) / centre - 1, max(per) / centre - 1
        lines.append(
            f"median {centre:,.0f} B/message, spread {low:+.1%} .. {high:+.1%} (mean {mean(per):,.0f})"
        )
    lines.append(f"runs: {len(sizes)}, threshold {threshold:,} B, run sizes {[f'{s:,}' for s in sizes]}")
    lines.append(
        f"burst: {burst.get('messages')} at once, {burst.get('answered')} answered, "
        f"{burst.get('model_calls')} model calls, {burst.get('runs')} runs"
    )
    lines += [f"{'PASS' if passed else 'FAIL'}  {name}" for name, passed in ok.items()]
    return lines
