"""The merchant-support agent's stand-in model: rules that play a competent model, for tests and benches.

Look the payment up, refund a proven duplicate (the later charge), report honestly, escalate when the
merchant asks for a person. Deterministic, so a scripted run is the same every time.
"""

from __future__ import annotations

import json
import re
from typing import Any

from activities.llm.scripted import (
    Observation,
    ScriptedReply,
    call_of,
    first_match,
    first_user_text,
    observations,
    offered,
)

_MERCHANT = re.compile(r"\bMID\d+\b")
_PAYMENT = re.compile(r"\bpay_[A-Za-z0-9]+\b")
_REFUND_WORDS = ("refund", "duplicate", "charged twice", "double charge", "double-charge")
_HUMAN_WORDS = ("manager", "human")


class DemoPolicy:
    """Merchant-payments support, played by rules: look up, refund a proven duplicate, report honestly."""

    def reply(self, messages: list[dict[str, Any]], tool_names: set[str]) -> ScriptedReply:
        task = first_user_text(messages)
        seen = observations(messages)
        lowered = task.lower()
        payment, merchant = first_match(_PAYMENT, task), first_match(_MERCHANT, task)
        if failed := [o for o in seen if o.error]:
            last = failed[-1]
            return ScriptedReply(
                content=f"I could not complete {last.tool}: {last.error}. No action was taken."
            )
        done = {o.tool for o in seen}
        wants_human = any(w in lowered for w in _HUMAN_WORDS)
        if wants_human and "escalate_to_human" in done:
            return ScriptedReply(
                content="I have escalated this case to a human colleague, who will follow up."
            )
        if wants_human and offered("escalate_to_human", tool_names):
            summary = (
                f"Merchant {merchant or 'unknown'} asked for a human about {payment or 'their account'}."
            )
            return ScriptedReply(
                content="The merchant asked for a person; escalating.",
                tool_calls=[
                    call_of("escalate_to_human", reason="customer asked for a human", summary=summary)
                ],
            )
        if refund := next((o for o in seen if o.tool == "initiate_refund"), None):
            return ScriptedReply(content=_refund_summary(refund))
        if payment and "get_transaction" not in done:
            calls = [call_of("get_transaction", transaction_id=payment)]
            if merchant and offered("get_merchant_account", tool_names):
                calls.append(call_of("get_merchant_account", merchant_id=merchant))
            return ScriptedReply(content="Looking up the payment and the merchant account.", tool_calls=calls)
        txn = next((o.data for o in seen if o.tool == "get_transaction" and isinstance(o.data, dict)), None)
        if txn is not None:
            return self._after_lookup(
                txn, payment or "", any(w in lowered for w in _REFUND_WORDS), tool_names
            )
        return self._no_payment(task, seen, tool_names)

    def _after_lookup(
        self, txn: dict[str, Any], payment: str, wants_refund: bool, tool_names: set[str]
    ) -> ScriptedReply:
        target = duplicate_target(txn, payment)
        status = txn.get("status", "unknown")
        if not wants_refund:
            return ScriptedReply(content=f"Payment {payment} is {status}: {_money(txn)}.")
        if target is None:
            return ScriptedReply(
                content=f"I found no duplicate of {payment} ({_money(txn)}), so I issued no refund."
            )
        if not offered("initiate_refund", tool_names):
            return ScriptedReply(content=f"{target} duplicates {payment}, but I cannot issue refunds here.")
        args = {"transaction_id": target, "amount": txn.get("amount"), "currency": txn.get("currency")}
        return ScriptedReply(
            content=f"{target} is a duplicate charge of {_money(txn)}; refunding it.",
            tool_calls=[call_of("initiate_refund", **args, reason=f"duplicate charge of {payment}")],
        )

    def _no_payment(self, task: str, seen: list[Observation], tool_names: set[str]) -> ScriptedReply:
        if kb := next((o for o in seen if o.tool == "search_knowledge_base"), None):
            return ScriptedReply(content=f"From our policy documents: {json.dumps(kb.data)[:600]}")
        if "policy" in task.lower() and offered("search_knowledge_base", tool_names):
            return ScriptedReply(tool_calls=[call_of("search_knowledge_base", query=task[:200])])
        return ScriptedReply(
            content="I can help with merchant payment questions. Please share the payment id (pay_...) "
            "and the merchant id (MID...) so I can look into it."
        )


def duplicate_target(txn: dict[str, Any], payment: str) -> str | None:
    """Which charge to refund: the observed one if it is itself a duplicate, else the later duplicate."""
    if isinstance(txn.get("duplicate_of"), str):
        return str(txn.get("id") or txn.get("transaction_id") or payment)
    dups = txn.get("possible_duplicates")
    if not isinstance(dups, list) or not dups:
        return None
    if all(isinstance(d, dict) for d in dups):
        # Details given: refund the latest charge of the group (ISO timestamps sort as strings).
        group = [{**txn, "id": txn.get("id") or payment}, *dups]
        latest = max(group, key=lambda d: str(d.get("created_at", "")))
        return str(latest.get("id") or latest.get("transaction_id") or "") or None
    first = dups[0]
    return first if isinstance(first, str) else None


def _money(data: dict[str, Any]) -> str:
    return f"{data.get('amount', '?')} {data.get('currency', '')}".strip()


def _refund_summary(refund: Observation) -> str:
    data = refund.data if isinstance(refund.data, dict) else {}
    refund_id = data.get("refund_id") or data.get("id") or "(no id returned)"
    amount = data.get("amount", refund.args.get("amount"))
    currency = data.get("currency", refund.args.get("currency", ""))
    charge = refund.args.get("transaction_id", "the duplicate charge")
    return f"Refund {refund_id} of {amount} {currency} was issued for the duplicate charge {charge}."
