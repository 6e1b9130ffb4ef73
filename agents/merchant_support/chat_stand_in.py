"""The merchant-support stand-in model inside a conversation: rules that read the memory it is given.

A conversation's prompt holds earlier episodes, a summary, the recent exchanges and then the new
message (core/conversation.py: NEW_MESSAGE). "Refund that one" names no payment: the rules take the
latest payment the conversation named, as a competent model would. A single run's prompt has no
such marker and goes to the single-run rules (stand_in.py: DemoPolicy).
"""

from __future__ import annotations

import re
from typing import Any

from activities.llm.scripted import ScriptedReply, call_of, first_match, first_user_text, observations
from agents.merchant_support.stand_in import DemoPolicy
from core.conversation import NEW_MESSAGE

_MERCHANT = re.compile(r"\bMID\d+\b")
_PAYMENT = re.compile(r"\bpay_[A-Za-z0-9]+\b")
_EPISODES = "[Earlier conversations"
_RECALL_WORDS = ("last time", "before", "other merchants", "earlier conversation")


class ChatPolicy:
    def __init__(self) -> None:
        self._single = DemoPolicy()

    def reply(self, messages: list[dict[str, Any]], tool_names: set[str]) -> ScriptedReply:
        task = first_user_text(messages)
        if NEW_MESSAGE not in task:
            return self._single.reply(messages, tool_names)
        memory, _, message = task.rpartition(NEW_MESSAGE)
        message = message.split("</case>")[0]
        seen = {o.tool: o for o in observations(messages)}
        failed = [o for o in seen.values() if o.error]
        if failed:
            return ScriptedReply(content=f"I could not complete {failed[0].tool}: {failed[0].error}.")
        lowered = message.lower()
        if any(word in lowered for word in _RECALL_WORDS):
            return ScriptedReply(content=_recalled(memory))
        this_talk = _without_episodes(memory)
        payment = first_match(_PAYMENT, message) or _last(_PAYMENT, this_talk)
        merchant = first_match(_MERCHANT, message) or _last(_MERCHANT, this_talk)
        if "refund" in lowered and payment:
            return _refund(payment, seen)
        wants_account = any(word in lowered for word in ("account", "merchant"))
        wants_payment = first_match(_PAYMENT, message) is not None or not wants_account
        calls = []
        if payment and wants_payment and "get_transaction" not in seen:
            calls.append(call_of("get_transaction", transaction_id=payment))
        if merchant and wants_account and "get_merchant_account" not in seen:
            calls.append(call_of("get_merchant_account", merchant_id=merchant))
        if calls:
            return ScriptedReply(content="Looking that up.", tool_calls=calls)
        facts = [
            _fact(seen[tool].data) for tool in ("get_transaction", "get_merchant_account") if tool in seen
        ]
        if facts:
            return ScriptedReply(content=" ".join(facts))
        return ScriptedReply(content="How can I help? A payment id (pay_...) lets me look it up.")


def _fact(data: Any) -> str:
    if not isinstance(data, dict):
        return str(data)[:200]
    if "merchant_id" in data and "name" in data:
        return f"Merchant {data.get('merchant_id')} ({data.get('name')}) is {data.get('status')}."
    money = f"{data.get('amount')} {data.get('currency')}"
    return f"Payment {data.get('transaction_id')} is {data.get('status')}: {money}."


def _refund(payment: str, seen: dict[str, Any]) -> ScriptedReply:
    txn = seen.get("get_transaction")
    if txn is None:
        return ScriptedReply(tool_calls=[call_of("get_transaction", transaction_id=payment)])
    if (refund := seen.get("initiate_refund")) is not None:
        data = refund.data if isinstance(refund.data, dict) else {}
        return ScriptedReply(
            content=f"Refund {data.get('refund_id')} of {data.get('amount')} {data.get('currency')} "
            f"was issued for {data.get('transaction_id')}."
        )
    data = txn.data if isinstance(txn.data, dict) else {}
    args = {"transaction_id": payment, "amount": data.get("amount"), "currency": data.get("currency")}
    return ScriptedReply(
        content=f"Refunding {payment}.",
        tool_calls=[call_of("initiate_refund", **args, reason="the merchant asked to refund it")],
    )


def _recalled(memory: str) -> str:
    """Only what this prompt holds: the user's own episodes, never anyone else's."""
    if _EPISODES not in memory:
        return (
            "I have no earlier conversations with you on record, and I do not share other merchants' cases."
        )
    section = memory.split(_EPISODES, 1)[1].split("\n\n", 1)[0]
    latest = next((line for line in section.splitlines() if line.startswith("- ")), "")
    return f"Last time we spoke: {latest[2:]}"


def _without_episodes(memory: str) -> str:
    if _EPISODES not in memory:
        return memory
    head, _, rest = memory.partition(_EPISODES)
    return head + (rest.split("\n\n", 1)[1] if "\n\n" in rest else "")


def _last(pattern: re.Pattern[str], text: str) -> str | None:
    found = pattern.findall(text)
    return str(found[-1]) if found else None
