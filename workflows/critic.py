"""A deterministic critic: a final answer must tell the user what was actually done.

For each irreversible call that ran, the identifiers its result holds in the agent's reported fields
(CriticPolicy) must appear in the answer; the loop sends an answer that hides one back once, then
states the facts itself.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from core.models import ToolCallRecord, ToolOutcome


def fact_of(record: ToolCallRecord, fields: Collection[str]) -> tuple[str, str] | None:
    """(identifier, sentence) of an action that ran, or None when it left nothing to report."""
    result = record.result if isinstance(record.result, dict) else {}
    for name in fields:
        ident = result.get(name)
        if ident:
            sentence = result.get("message") or f"{record.tool} succeeded: {name} {ident}"
            return str(ident), str(sentence)
    return None


def unreported(
    answer: str, calls: Iterable[ToolCallRecord], irreversible: Collection[str], fields: Collection[str]
) -> list[str]:
    """Sentences for each irreversible action whose identifier the answer leaves out."""
    missing = []
    for record in calls:
        if record.outcome != ToolOutcome.OK or record.tool not in irreversible:
            continue
        fact = fact_of(record, fields)
        if fact is not None and fact[0] not in answer:
            missing.append(fact[1])
    return missing
