"""A deterministic critic: a final answer must tell the merchant what was actually done."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from core.models import ToolCallRecord, ToolOutcome
from workflows.observations import field_of

# The identifiers a merchant needs to hear about, per irreversible tool result.
REPORTED_FIELDS = ("refund_id", "ticket_id")


def fact_of(record: ToolCallRecord) -> tuple[str, str] | None:
    """(identifier, sentence) of an action that ran, or None when it left nothing to report."""
    for name in REPORTED_FIELDS:
        ident = field_of(record.observation, name)
        if ident:
            sentence = field_of(record.observation, "message") or f"{record.tool} succeeded: {name} {ident}"
            return ident, sentence
    return None


def unreported(answer: str, calls: Iterable[ToolCallRecord], irreversible: Collection[str]) -> list[str]:
    """Sentences for each irreversible action whose identifier the answer leaves out."""
    missing = []
    for record in calls:
        if record.outcome != ToolOutcome.OK or record.tool not in irreversible:
            continue
        fact = fact_of(record)
        if fact is not None and fact[0] not in answer:
            missing.append(fact[1])
    return missing
