"""The scripted reader of bench/context.py: reads N documents, one per turn, then answers.

The turn is read from the conversation itself (the workflow numbers calls `t<turn>-<n>`), not from the
number of assistant messages, because a bounded prompt keeps only the recent turns.
"""

from __future__ import annotations

import re
from typing import Any

from activities.llm.openai_provider import OpenAIProvider
from activities.llm.scripted import ScriptBook, ScriptedReply, ScriptedToolCall, ScriptedTransport

TASK = "Audit the merchant operations handbook: read {n} documents, one per turn, then report."
_WANTED = re.compile(r"read (\d+) documents")
_CALL_ID = re.compile(r"^t(\d+)-\d+$")
SUMMARY = "The agent is reading the handbook and help articles one document per turn; nothing is open."


def task_for(turns: int) -> str:
    return TASK.format(n=turns)


def last_turn(messages: list[dict[str, Any]]) -> int:
    """The newest turn that has a tool result in the prompt; 0 before the first call."""
    turns = [
        int(match.group(1))
        for message in messages
        if message.get("role") == "tool"
        and (match := _CALL_ID.match(str(message.get("tool_call_id") or ""))) is not None
    ]
    return max(turns, default=0)


class ReaderPolicy:
    """Turn k calls fetch_page(page=k) or fetch_article(article=k), alternately; then answers."""

    def reply(self, messages: list[dict[str, Any]], tool_names: set[str]) -> ScriptedReply:
        if "fetch_page" not in tool_names:
            return ScriptedReply(content=SUMMARY)  # llm.summarize: code appends the exact facts
        task = next((str(m.get("content") or "") for m in messages if m.get("role") == "user"), "")
        match = _WANTED.search(task)
        wanted = int(match.group(1)) if match else 1
        turn = last_turn(messages) + 1
        if turn > wanted:
            return ScriptedReply(content=f"Read {wanted} documents; the handbook is consistent throughout.")
        if turn % 2:
            call = ScriptedToolCall(name="fetch_page", arguments={"page": turn})
        else:
            call = ScriptedToolCall(name="fetch_article", arguments={"article": turn})
        return ScriptedReply(content=f"Reading document {turn} of {wanted}.", tool_calls=[call])


def reader_provider() -> OpenAIProvider:
    """The OpenAI provider over the scripted transport: real request building, parsing and usage."""
    return OpenAIProvider(
        "http://scripted.invalid/v1",
        default_model="scripted",
        transport=ScriptedTransport(ScriptBook({}, ReaderPolicy())),
    )
