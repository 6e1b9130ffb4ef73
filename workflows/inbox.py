"""A conversation's inbox: messages in order, each taken once, and each answer kept for its sender.

Pure. Double-texting follows the agent's policy: "queue" hands out one message at a time, "merge"
hands out everything waiting as one batch. A message is answered exactly once: a message id seen
before (a retried send) is never queued again, and answers are kept (the newest KEEP_ANSWERS) for
`await_reply` and for retried sends.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

from core.conversation import ConversationCarry, MessageReply, QueuedMessage

KEEP_ANSWERS = 50


class Inbox:
    def __init__(self, carry: ConversationCarry | None = None) -> None:
        self.queued: list[QueuedMessage] = list(carry.queued) if carry else []
        self.answers: OrderedDict[str, MessageReply] = OrderedDict(
            (r.message_id, r) for r in (carry.answered if carry else ())
        )
        self.next_number = carry.next_message if carry else 0
        self.busy: tuple[str, ...] = ()

    def known(self, message_id: str) -> bool:
        return (
            message_id in self.answers
            or message_id in self.busy
            or any(q.message_id == message_id for q in self.queued)
        )

    def add(self, text: str, message_id: str | None) -> str:
        """Queue a message; its id (the sender's, or the next `m<n>`). A known id is not queued again."""
        if message_id is not None and self.known(message_id):
            return message_id
        self.next_number += 1
        given = message_id or f"m{self.next_number}"
        self.queued.append(QueuedMessage(message_id=given, text=text))
        return given

    def take(self, policy: Literal["queue", "merge"]) -> list[QueuedMessage]:
        """The next batch to handle, marked busy until answered."""
        count = len(self.queued) if policy == "merge" else min(1, len(self.queued))
        batch, self.queued = self.queued[:count], self.queued[count:]
        self.busy = tuple(q.message_id for q in batch)
        return batch

    def answer(self, reply: MessageReply, batch: list[QueuedMessage]) -> None:
        ids = [q.message_id for q in batch]
        for message_id in ids:
            others = tuple(i for i in ids if i != message_id)
            self.answers[message_id] = reply.model_copy(
                update={"message_id": message_id, "merged_with": others}
            )
        while len(self.answers) > KEEP_ANSWERS:
            self.answers.popitem(last=False)
        self.busy = ()


def merged_text(batch: list[QueuedMessage]) -> str:
    """What the agent reads for a batch: one message as it is, several in the order they came."""
    if len(batch) == 1:
        return batch[0].text
    return "\n\n".join(f"({n}) {q.text}" for n, q in enumerate(batch, start=1))
