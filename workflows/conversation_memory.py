"""A conversation's memory, as its agent reads it: earlier conversations, a summary, recent exchanges.

Pure and deterministic. Recent exchanges are kept verbatim; older ones are folded in code into a
bounded summary (one line each, the oldest lines dropping off) plus the identifiers the agent's
`keep_exact` patterns find, kept exactly. So the prompt of every message stays bounded however long
the conversation grows, and no fold needs a model call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from core.conversation import NEW_MESSAGE, ConversationCarry, ConversationPolicy, Episode, Exchange
from core.models import ToolCallRecord

LINE_CHARS = (160, 240)  # what a summary line keeps of the message and of the answer
RECENT_CHARS = 1_500  # of each recent message and answer


def clip(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def find_ids(texts: Iterable[str], patterns: tuple[str, ...]) -> tuple[str, ...]:
    """Identifiers in order of first appearance, each once."""
    found: dict[str, None] = {}
    for text in texts:
        for pattern in patterns:
            for match in re.finditer(pattern, text):
                found.setdefault(match.group(0), None)
    return tuple(found)


def exchange_ids(
    user: str, answer: str, calls: Iterable[ToolCallRecord], patterns: tuple[str, ...]
) -> tuple[str, ...]:
    args = [" ".join(str(v) for v in c.args.values()) for c in calls]
    return find_ids([user, *args, answer], patterns)


class ConversationMemory:
    def __init__(self, policy: ConversationPolicy, carry: ConversationCarry | None = None) -> None:
        self._policy = policy
        self.lines: list[str] = carry.summary.splitlines() if carry and carry.summary else []
        self.recent: list[Exchange] = list(carry.recent) if carry else []
        self.kept_ids: list[str] = list(carry.kept_ids) if carry else []
        self.first_message = carry.first_message if carry else ""
        self.episodes: tuple[Episode, ...] = carry.episodes if carry else ()

    @property
    def summary(self) -> str:
        return "\n".join(self.lines)

    def add(self, exchange: Exchange) -> None:
        """Remember an exchange; the oldest recent ones fold into the summary."""
        self.first_message = self.first_message or exchange.user
        self.recent.append(exchange)
        self._keep_ids(exchange.ids)
        while len(self.recent) > self._policy.recent_exchanges:
            self._fold(self.recent.pop(0))

    def _fold(self, old: Exchange) -> None:
        asked, answered = LINE_CHARS
        line = f"asked {clip(old.user, asked)!r}; answered {clip(old.assistant, answered)!r}"
        self.lines.append(f"- {old.message_ids[0]}: {line}")
        while self.lines and sum(len(line) + 1 for line in self.lines) > self._policy.summary_chars:
            self.lines.pop(0)

    def _keep_ids(self, ids: Iterable[str]) -> None:
        for found in ids:
            if found in self.kept_ids:
                self.kept_ids.remove(found)
            self.kept_ids.append(found)
        del self.kept_ids[: -self._policy.kept_ids]

    def render(self, message: str) -> str:
        """The text the agent gets as its task for `message`: memory first, the message last."""
        parts: list[str] = []
        if self.episodes:
            lines = [_episode_line(e) for e in self.episodes]
            parts.append("[Earlier conversations with this user, newest first]\n" + "\n".join(lines))
        if self.lines or self.kept_ids:
            ids = [f"Identifiers so far (exact): {', '.join(self.kept_ids)}"] if self.kept_ids else []
            parts.append("\n".join(["[Summary of this conversation so far]", *self.lines, *ids]))
        if self.recent:
            parts.append("[Recent messages]\n" + "\n".join(_exchange_lines(e) for e in self.recent))
        parts.append(f"{NEW_MESSAGE}\n{message}")
        return "\n\n".join(parts)


def _episode_line(episode: Episode) -> str:
    ids = f" (ids: {', '.join(episode.ids[:10])})" if episode.ids else ""
    when = episode.closed_at.date().isoformat()
    return f"- {when}: issue {clip(episode.issue, 200)!r}; resolution {clip(episode.resolution, 300)!r}{ids}"


def _exchange_lines(exchange: Exchange) -> str:
    ids = f" [ids: {', '.join(exchange.ids)}]" if exchange.ids else ""
    user, answer = clip(exchange.user, RECENT_CHARS), clip(exchange.assistant, RECENT_CHARS)
    return f"user: {user}\nassistant: {answer}{ids}"
