"""The benchmark's tasks and the competent model that solves them (before any fault is injected)."""

from __future__ import annotations

import hashlib
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from activities.llm.scripted import ScriptedReply, ScriptedToolCall, first_user_text, observations
from bench.bench_tools import CORPUS, evaluate, format_number, summarise_text
from bench.faults import FaultPlan, ToolFaultRates

Kind = Literal["search", "calculate", "summarise"]
KINDS: tuple[Kind, ...] = ("search", "calculate", "summarise")
TOOL_OF: dict[Kind, str] = {"search": "web_search", "calculate": "calculate", "summarise": "summarise"}
_TASK = re.compile(r"Task (\d+) \((search|calculate|summarise)\): ([^\n]+)")
_SUMMARISE = re.compile(r"in at most (\d+) words: (.+)")

# Per-tool fault rates in the spirit of the published benchmark: search is the flakiest dependency.
DEFAULT_TOOL_FAULTS: dict[str, ToolFaultRates] = {
    "web_search": ToolFaultRates(transient=0.12, rate_limited=0.08, down=0.08),
    "calculate": ToolFaultRates(transient=0.05),
    "summarise": ToolFaultRates(rate_limited=0.11, down=0.07),
}


class BenchTask(BaseModel):
    model_config = ConfigDict(frozen=True)

    task_id: int
    kind: Kind
    prompt: str
    expected: str  # the answer must contain this


def _draw(seed: int, *parts: object) -> int:
    key = "|".join([str(seed), *(str(p) for p in parts)]).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big")


def _calculate(seed: int, task_id: int) -> tuple[str, str]:
    a, b, c = (_draw(seed, task_id, name) % 90 + 2 for name in "abc")
    shape = ("({a} + {b}) * {c}", "{a} * {b} - {c}", "({a} - {b}) / {c}", "{a} ** 2 + {b} * {c}")
    expression = shape[_draw(seed, task_id, "shape") % len(shape)].format(a=a, b=b, c=c)
    return f"compute {expression}", format_number(evaluate(expression))


def make_task(seed: int, task_id: int) -> BenchTask:
    kind = KINDS[_draw(seed, task_id, "kind") % len(KINDS)]
    doc_id, title, body = CORPUS[_draw(seed, task_id, "doc") % len(CORPUS)]
    if kind == "calculate":
        text, expected = _calculate(seed, task_id)
    elif kind == "search":
        text, expected = f"find the document about {title.lower()}", doc_id
    else:
        words = 4 + _draw(seed, task_id, "words") % 8
        text, expected = f"summarise in at most {words} words: {body}", summarise_text(body, words).summary
    return BenchTask(task_id=task_id, kind=kind, prompt=f"Task {task_id} ({kind}): {text}", expected=expected)


def make_tasks(count: int, seed: int) -> list[BenchTask]:
    return [make_task(seed, task_id) for task_id in range(1, count + 1)]


def default_plan(seed: int, hallucination_rate: float) -> FaultPlan:
    return FaultPlan(seed=seed, hallucination_rate=hallucination_rate, tools=DEFAULT_TOOL_FAULTS)


def intended_call(kind: str, text: str) -> ScriptedToolCall:
    """The one right call for a task, read from the task text alone."""
    if kind == "calculate":
        return ScriptedToolCall(name="calculate", arguments={"expression": text.removeprefix("compute ")})
    if kind == "search":
        query = text.removeprefix("find the document about ")
        return ScriptedToolCall(name="web_search", arguments={"query": query})
    match = _SUMMARISE.search(text)
    words, body = (int(match.group(1)), match.group(2)) if match else (20, text)
    return ScriptedToolCall(name="summarise", arguments={"text": body, "max_words": words})


def answer_from(kind: str, data: Any) -> str:
    result = data if isinstance(data, dict) else {}
    if kind == "calculate":
        return f"The result is {result.get('value')}."
    if kind == "search":
        hits = result.get("hits") or [{}]
        return f"The best match is {hits[0].get('id')} ({hits[0].get('title')})."
    return f"Summary: {result.get('summary')}"


class BenchPolicy:
    """A competent model: call the right tool, answer from its result, report a failure honestly."""

    def reply(self, messages: list[dict[str, Any]], tool_names: set[str]) -> ScriptedReply:
        match = _TASK.search(first_user_text(messages))
        if match is None:
            return ScriptedReply(content="I cannot tell which task this is.")
        kind, text = match.group(2), match.group(3).strip()
        call = intended_call(kind, text)
        seen = [o for o in observations(messages) if o.tool == call.name]
        if not seen:
            return ScriptedReply(content=f"Calling {call.name}.", tool_calls=[call])
        last = seen[-1]
        if last.error:
            return ScriptedReply(content=f"I could not complete {call.name}: {last.error}")
        return ScriptedReply(content=answer_from(kind, last.data))
