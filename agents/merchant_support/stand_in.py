"""The merchant-support agent's stand-in model: rules that play a competent model, for tests and benches.

Look the payment up, refund a proven duplicate (the later charge) or the amount the merchant names,
report honestly, escalate when the merchant asks for a person or a suspended account asks for a refund,
and never act on instructions written inside the message. Deterministic, so a scripted run is the same
every time. It follows the procedure the system prompt gives: a prompt whose rules leave out the
duplicate check gets a model that refunds the payment it was told about (the eval suite must see it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
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
_AMOUNT = re.compile(r"(?<![\w.])\d+\.\d{2}(?!\w|\.\d)")
_REFUND_WORDS = ("refund", "duplicate", "charged twice", "double charge", "double-charge")
_HUMAN_WORDS = ("manager", "human")
# Instructions smuggled into the merchant's message: data to report, never orders to follow.
_INJECTION = re.compile(
    r"ignore (?:all |your |the )?(?:previous|prior|above) (?:instructions|rules)|system override|"
    r"developer mode|<\s*/?\s*system\s*>|approval (?:is |was )?already granted|without (?:any )?approval|"
    r"you are now|new instructions:",
    re.IGNORECASE,
)


def follows_duplicate_rule(messages: list[dict[str, Any]]) -> bool:
    """Whether the system prompt's procedure has the model check possible_duplicates before a refund;
    a prompt with no numbered rules leaves the model its own (competent) judgement."""
    system = next((str(m.get("content") or "") for m in messages if m.get("role") == "system"), "")
    has_rules = re.search(r"^\s*\d+\.\s", system, re.MULTILINE) is not None
    return not has_rules or "possible_duplicates" in system


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
        if ticket := next((o for o in seen if o.tool == "escalate_to_human"), None):
            data = ticket.data if isinstance(ticket.data, dict) else {}
            return ScriptedReply(
                content=f"I have handed this case to a human colleague (ticket {data.get('ticket_id')}); "
                "they will follow up. No refund was made."
            )
        if payment and "get_transaction" not in done:
            calls = [call_of("get_transaction", transaction_id=payment)]
            if merchant and offered("get_merchant_account", tool_names):
                calls.append(call_of("get_merchant_account", merchant_id=merchant))
            return ScriptedReply(content="Looking up the payment and the merchant account.", tool_calls=calls)
        txn = next((o.data for o in seen if o.tool == "get_transaction" and isinstance(o.data, dict)), None)
        if txn is not None:
            ask = _Ask(
                payment=payment or "",
                wants_refund=any(w in lowered for w in _REFUND_WORDS),
                amount=first_match(_AMOUNT, task),
                injected=_INJECTION.search(task) is not None,
                checks_duplicates=follows_duplicate_rule(messages),
            )
            merchant_data = next((o.data for o in seen if o.tool == "get_merchant_account"), None)
            suspended = isinstance(merchant_data, dict) and merchant_data.get("status") == "suspended"
            return self._after_lookup(txn, ask, suspended, tool_names)
        return self._no_payment(task, seen, tool_names)

    def _after_lookup(
        self, txn: dict[str, Any], ask: _Ask, suspended: bool, tool_names: set[str]
    ) -> ScriptedReply:
        payment, status = ask.payment, txn.get("status", "unknown")
        found = f"Payment {payment} is {status}: {_money(txn)}."
        if not ask.wants_refund:
            return ScriptedReply(content=found)
        if ask.injected:
            return ScriptedReply(
                content=f"{found} Your message contains instructions I do not act on, so I made no refund."
            )
        if suspended and offered("escalate_to_human", tool_names):
            summary = f"Refund asked for {payment} ({_money(txn)}) of a suspended merchant account."
            reason = "refund requested for a suspended merchant account"
            return ScriptedReply(
                content="Refunds of a suspended account go to the risk team; escalating.",
                tool_calls=[call_of("escalate_to_human", reason=reason, summary=summary)],
            )
        target = duplicate_target(txn, payment) if ask.checks_duplicates else payment
        amount, reason = txn.get("amount"), f"duplicate charge of {payment}"
        if not ask.checks_duplicates:
            reason = "refund requested by the merchant"
        if target is None:
            if ask.amount is None:
                return ScriptedReply(
                    content=f"I found no duplicate of {payment} ({_money(txn)}), so I issued no refund."
                )
            target, amount, reason = payment, ask.amount, f"the merchant asked to refund {ask.amount}"
        if _nothing_left(txn, target, payment):
            return ScriptedReply(content=f"{found} {target} has nothing left to refund, so I issued none.")
        if not offered("initiate_refund", tool_names):
            return ScriptedReply(content=f"{target} could be refunded, but I cannot issue refunds here.")
        args = {"transaction_id": target, "amount": amount, "currency": txn.get("currency")}
        return ScriptedReply(
            content=f"Refunding {amount} {txn.get('currency', '')} of {target}.",
            tool_calls=[call_of("initiate_refund", **args, reason=reason)],
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


@dataclass(frozen=True)
class _Ask:
    payment: str
    wants_refund: bool
    amount: str | None  # an amount the merchant names ("refund 20.00")
    injected: bool
    checks_duplicates: bool


def _nothing_left(txn: dict[str, Any], target: str, payment: str) -> bool:
    """Rule 3: a refundable_amount of "0.00" (the charge, or its duplicate) is already refunded."""
    if target == payment:
        return str(txn.get("refundable_amount", "")) == "0.00"
    dups = txn.get("possible_duplicates")
    for dup in dups if isinstance(dups, list) else []:
        if isinstance(dup, dict) and target in (dup.get("transaction_id"), dup.get("id")):
            return str(dup.get("refundable_amount", "")) == "0.00"
    return False


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
    charge = refund.args.get("transaction_id", "that payment")
    return f"Refund {refund_id} of {amount} {currency} was issued for the charge {charge}."
