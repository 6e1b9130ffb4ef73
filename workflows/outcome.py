"""How a run ends: a typed stop and an honest partial answer."""

from __future__ import annotations

from core.models import RunState, ToolCallRecord, ToolOutcome


class Stop(Exception):
    """Raised inside the loop to end the run with a status; caught in `run`, never escapes."""

    def __init__(self, status: RunState, answer: str, reason: str | None) -> None:
        super().__init__(status.value)
        self.status = status
        self.answer = answer
        self.reason = reason


def partial_answer(turns: int, calls: list[ToolCallRecord]) -> str:
    """What was found before the budget ran out, stated plainly rather than guessed at."""
    head = f"I stopped after {turns} turns without finishing the case."
    done = [c for c in calls if c.outcome == ToolOutcome.OK]
    if not done:
        return head + " No tool call succeeded, so I have no verified findings yet."
    lines = [f"- {c.tool}({', '.join(str(v) for v in c.args.values())}): {c.observation[:300]}" for c in done]
    return head + " What I verified so far:\n" + "\n".join(lines[-6:])
