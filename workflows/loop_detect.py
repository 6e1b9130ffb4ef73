"""Loop detection: a pure, serializable detector the workflow feeds every call and result.

Patterns (checked on each call, first match wins):
  ping_pong         the last four calls are A, B, A, B (exact tool + canonical args, A ≠ B)
  repeat_call       this exact tool + canonical args was already called in this run
  same_tool_streak  the same tool N turns in a row (calls of one turn count once: parallel lookups
                    of several ids are not a loop)
and on each result:
  same_result       a call that did run again returned exactly what it returned before.
The first detection gives the model the earlier result and asks it to change approach (the call is
not run); the second stops the run. Alternating tools with different arguments (look up payment 1,
merchant 1, payment 2, merchant 2) is progress, not ping-pong, and is not flagged.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from core.guardrails import LoopFields

LoopKind = Literal["repeat_call", "same_result", "ping_pong", "same_tool_streak"]
RESULT_CHARS = 1500  # how much of an earlier result the model is shown again


class LoopVerdict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: LoopKind | None = None
    detections: int = 0
    message_for_model: str = ""
    stop: bool = False


def canonical_args(args: dict[str, Any] | str) -> str:
    """Key-order-independent JSON of a call's arguments; a non-JSON string is kept as it is."""
    parsed: Any = args
    if isinstance(args, str):
        try:
            parsed = json.loads(args)
        except ValueError:
            return args
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


class LoopDetector(LoopFields):
    """Carry it across continue-as-new as its LoopState: `model_dump()` in, `LoopDetector(**state)` out."""

    model_config = ConfigDict(extra="forbid")

    def observe_call(self, tool: str, canonical_args_json: str, turn: int | None = None) -> LoopVerdict:
        """Call before running a tool call; a verdict with `kind` means: do not run it."""
        key = _key(tool, canonical_args_json)
        seen_before = key in self.results or key in self.recent
        self.recent = [*self.recent, key][-4:]
        self._advance_streak(tool, turn)
        if len(self.recent) == 4 and _alternates(self.recent):
            first, second = self.recent[-2], self.recent[-1]
            message = (
                f"You are alternating between {_show(first)} and {_show(second)} without progress. "
                f"Their results were: {self._result(first)} / {self._result(second)}."
            )
            return self._detect("ping_pong", message)
        if seen_before:
            message = f"You already called {_show(key)}. Its result was: {self._result(key)}."
            return self._detect("repeat_call", message)
        if self.streak_count >= self.streak_n:
            message = f"You called {tool} {self.streak_count} turns in a row without finishing."
            return self._detect("same_tool_streak", message)
        return LoopVerdict(detections=self.counters.detections)

    def observe_result(self, tool: str, args: dict[str, Any] | str, result_text: str) -> LoopVerdict:
        """Call with every result of a call that ran; remembers it for later repeats."""
        key = _key(tool, canonical_args(args))
        digest = hashlib.sha256(result_text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        earlier = self.digests.get(key)
        # Only a clip (for the model) and a digest (for equality) are kept: this state is carried
        # across continue-as-new, so it must not grow with the size of tool results.
        self.results.pop(key, None)
        self.digests.pop(key, None)
        self.results[key], self.digests[key] = _clip(result_text), digest
        while len(self.results) > self.memory:
            oldest = next(iter(self.results))
            self.results.pop(oldest)
            self.digests.pop(oldest, None)
        if earlier is not None and earlier == digest:
            message = f"{_show(key)} returned exactly the same result again: {_clip(result_text)}."
            return self._detect("same_result", message)
        return LoopVerdict(detections=self.counters.detections)

    def _advance_streak(self, tool: str, turn: int | None) -> None:
        if tool != self.streak_tool:
            self.streak_tool, self.streak_count = tool, 1
        elif turn is None or turn != self.streak_turn:
            self.streak_count += 1
        self.streak_turn = turn

    def _detect(self, kind: LoopKind, what: str) -> LoopVerdict:
        detections = self.counters.detections + 1
        stop = detections >= 2
        update: dict[str, Any] = {kind: getattr(self.counters, kind) + 1, "detections": detections}
        self.counters = self.counters.model_copy(update={**update, "stopped": stop})
        if stop:
            message = f"Loop detected again ({kind}): {what} The run stops here and a human takes over."
        else:
            message = (
                f"Loop warning ({kind}): {what} Repeating it will not give you anything new. Use the "
                "result you already have and change your approach: a different tool, different "
                "arguments, or your final answer."
            )
        return LoopVerdict(kind=kind, detections=detections, message_for_model=message, stop=stop)

    def _result(self, key: str) -> str:
        earlier = self.results.get(key)
        return _clip(earlier) if earlier is not None else "(no result recorded yet)"


def _key(tool: str, canonical_args_json: str) -> str:
    return f"{tool} {canonical_args(canonical_args_json)}"


def _alternates(keys: list[str]) -> bool:
    a, b, c, d = keys
    return a == c and b == d and a != b


def _show(key: str) -> str:
    tool, _, args = key.partition(" ")
    return f"{tool}({args})"


def _clip(text: str) -> str:
    return text if len(text) <= RESULT_CHARS else text[:RESULT_CHARS] + f"… [{len(text) - RESULT_CHARS} more]"
