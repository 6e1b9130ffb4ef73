"""When a run hands its case to a human: deterministic triggers, listed in code."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from core.models import ToolCallRecord, ToolOutcome

# The customer asks for a person. Whole words or phrases, case-insensitive.
HUMAN_REQUEST_PHRASES = (
    "human",
    "manager",
    "supervisor",
    "real person",
    "a person",
    "speak to someone",
    "talk to someone",
    "call me",
)
# The customer is angry: escalating early beats a bot arguing with an upset merchant.
ANGER_PHRASES = (
    "furious",
    "angry",
    "outraged",
    "unacceptable",
    "ridiculous",
    "disgusting",
    "scam",
    "fraudsters",
    "lawyer",
    "sue you",
    "worst service",
    "fed up",
)
REPEATED_FAILURES = 2  # classified failures of one tool before a human takes over

_PATTERNS = {
    "customer_request": re.compile(r"\b(" + "|".join(map(re.escape, HUMAN_REQUEST_PHRASES)) + r")\b", re.I),
    "customer_anger": re.compile(r"\b(" + "|".join(map(re.escape, ANGER_PHRASES)) + r")\b|!{3,}", re.I),
}


def customer_trigger(text: str) -> tuple[str, str] | None:
    """(trigger, reason) when the customer's words call for a human, else None."""
    for trigger, pattern in _PATTERNS.items():
        found = pattern.search(text)
        if found:
            return trigger, f"the customer's message contains {found.group(0)!r}"
    return None


def repeated_failure(calls: Iterable[ToolCallRecord]) -> tuple[str, str] | None:
    """(trigger, reason) when one tool has failed with a classified error twice or more."""
    failures = Counter(c.tool for c in calls if c.outcome == ToolOutcome.ERROR and c.error_type)
    for tool, count in failures.items():
        if count >= REPEATED_FAILURES:
            return "repeated_failure", f"{tool} failed {count} times"
    return None


def approval_timed_out(calls: Iterable[ToolCallRecord]) -> tuple[str, str] | None:
    for c in calls:
        if c.outcome == ToolOutcome.DENIED and "approval_timeout" in c.observation:
            return "approval_timeout", f"nobody approved {c.tool} ({c.call_id}) before its deadline"
    return None
