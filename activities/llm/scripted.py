"""A deterministic scripted model served as an httpx transport that speaks OpenAI chat completions.

`OpenAIProvider(transport=ScriptedTransport(book))` therefore exercises exactly the request building,
parsing, usage and error classification of a real provider. Replies come from a `ScriptBook` keyed by a
substring of the first user message, or from `DemoPolicy`, a rule-based stand-in for a competent model.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter, deque
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, Field
from pydantic_core import from_json, to_json

EXHAUSTED = "(script exhausted)"
_JSON = {"Content-Type": "application/json"}


class ScriptedToolCall(BaseModel):
    name: str
    # A str is sent verbatim, so tests can feed malformed JSON arguments.
    arguments: dict[str, Any] | str = Field(default_factory=dict)


class ScriptedReply(BaseModel):
    content: str = ""
    tool_calls: list[ScriptedToolCall] = Field(default_factory=list)
    status: int = 200
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None  # raw body override, e.g. invalid JSON
    fail_first: int = 0  # >0: the first N attempts of this turn get status/headers/body, then success
    delay_s: float = 0.0


class Policy(Protocol):
    def reply(self, messages: list[dict[str, Any]], tool_names: set[str]) -> ScriptedReply: ...


class ScriptBook:
    """Scripts keyed by a substring of the first user message; the first matching key wins."""

    def __init__(self, scripts: dict[str, list[ScriptedReply]], fallback: Policy | None = None) -> None:
        self.scripts = scripts
        self.fallback = fallback

    def match(self, task: str) -> str | None:
        return next((key for key in self.scripts if key in task), None)


class ScriptedTransport(httpx.AsyncBaseTransport):
    """Answers POST .../chat/completions; the turn index is the number of assistant messages sent."""

    def __init__(self, book: ScriptBook) -> None:
        self.book = book
        self.calls: Counter[tuple[str, int]] = Counter()  # attempts per (key, turn), for fail_first
        # The latest request bodies, for tests; bounded: a 500-run benchmark kept all 4,500 prompts
        # (~4 KB each) alive for the garbage collector to walk on every full collection.
        self.requests: deque[dict[str, Any]] = deque(maxlen=64)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or not request.url.path.endswith("/chat/completions"):
            return httpx.Response(404, json={"error": {"message": f"no route {request.url.path}"}})
        # pydantic_core's parser and encoder: this stand-in's CPU is charged to the worker in bench/.
        body = from_json(await request.aread())
        self.requests.append(body)
        messages: list[dict[str, Any]] = body.get("messages", [])
        reply, failing = self._choose(messages, {t["function"]["name"] for t in body.get("tools", [])})
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if failing:
            content = reply.body if reply.body is not None else json.dumps({"error": {"message": "scripted"}})
            return httpx.Response(reply.status, headers=reply.headers, content=content.encode())
        return httpx.Response(200, content=to_json(completion_body(reply, messages)), headers=_JSON)

    def _choose(self, messages: list[dict[str, Any]], tool_names: set[str]) -> tuple[ScriptedReply, bool]:
        task = first_user_text(messages)
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        key = self.book.match(task)
        if key is None:
            policy = self.book.fallback
            text = "(no script matches this task)"
            return (policy.reply(messages, tool_names) if policy else ScriptedReply(content=text)), False
        script = self.book.scripts[key]
        if turn >= len(script):
            return ScriptedReply(content=EXHAUSTED), False
        reply = script[turn]
        self.calls[(key, turn)] += 1
        attempt = self.calls[(key, turn)]
        failing = reply.status != 200 or reply.body is not None
        return reply, failing and (reply.fail_first == 0 or attempt <= reply.fail_first)


def first_user_text(messages: list[dict[str, Any]]) -> str:
    return next((str(m.get("content") or "") for m in messages if m.get("role") == "user"), "")


def completion_body(reply: ScriptedReply, messages: list[dict[str, Any]]) -> dict[str, Any]:
    calls: list[dict[str, Any]] = [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {
                "name": c.name,
                "arguments": c.arguments if isinstance(c.arguments, str) else json.dumps(c.arguments),
            },
        }
        for i, c in enumerate(reply.tool_calls)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
    if calls:
        message["tool_calls"] = calls
    # A message counts its content and its tool calls' compact JSON ("[]", 2 chars, when it has none),
    # encoded by pydantic_core: this stand-in's CPU is charged to the worker in bench/.
    prompt_chars = sum(
        len(str(m.get("content") or "")) + (len(to_json(made)) if (made := m.get("tool_calls")) else 2)
        for m in messages
    )
    reply_chars = len(reply.content) + sum(
        len(c["function"]["name"] + c["function"]["arguments"]) for c in calls
    )
    return {
        "id": f"chatcmpl-scripted-{len(messages)}",
        "object": "chat.completion",
        "model": "scripted",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
        "usage": {"prompt_tokens": prompt_chars // 4, "completion_tokens": reply_chars // 4},
    }


# ── the demo domain's stand-in model ────────────────────────────────────────

_MERCHANT = re.compile(r"\bMID\d+\b")
_PAYMENT = re.compile(r"\bpay_[A-Za-z0-9]+\b")
_REFUND_WORDS = ("refund", "duplicate", "charged twice", "double charge", "double-charge")
_HUMAN_WORDS = ("manager", "human")


def _call(name: str, **arguments: Any) -> ScriptedToolCall:
    return ScriptedToolCall(name=name, arguments=arguments)


class Observation(BaseModel):
    tool: str
    args: dict[str, Any]
    data: Any  # the decoded observation (a dict when the tool returned JSON), else the raw text
    error: str | None


class DemoPolicy:
    """Merchant-payments support, played by rules: look up, refund a proven duplicate, report honestly."""

    def reply(self, messages: list[dict[str, Any]], tool_names: set[str]) -> ScriptedReply:
        task = first_user_text(messages)
        seen = observations(messages)
        lowered = task.lower()
        payment, merchant = _first(_PAYMENT, task), _first(_MERCHANT, task)
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
        if wants_human and _offered("escalate_to_human", tool_names):
            summary = (
                f"Merchant {merchant or 'unknown'} asked for a human about {payment or 'their account'}."
            )
            return ScriptedReply(
                content="The merchant asked for a person; escalating.",
                tool_calls=[_call("escalate_to_human", reason="customer asked for a human", summary=summary)],
            )
        if refund := next((o for o in seen if o.tool == "initiate_refund"), None):
            return ScriptedReply(content=_refund_summary(refund))
        if payment and "get_transaction" not in done:
            calls = [_call("get_transaction", transaction_id=payment)]
            if merchant and _offered("get_merchant_account", tool_names):
                calls.append(_call("get_merchant_account", merchant_id=merchant))
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
        if not _offered("initiate_refund", tool_names):
            return ScriptedReply(content=f"{target} duplicates {payment}, but I cannot issue refunds here.")
        args = {"transaction_id": target, "amount": txn.get("amount"), "currency": txn.get("currency")}
        return ScriptedReply(
            content=f"{target} is a duplicate charge of {_money(txn)}; refunding it.",
            tool_calls=[_call("initiate_refund", **args, reason=f"duplicate charge of {payment}")],
        )

    def _no_payment(self, task: str, seen: list[Observation], tool_names: set[str]) -> ScriptedReply:
        if kb := next((o for o in seen if o.tool == "search_knowledge_base"), None):
            return ScriptedReply(content=f"From our policy documents: {json.dumps(kb.data)[:600]}")
        if "policy" in task.lower() and _offered("search_knowledge_base", tool_names):
            return ScriptedReply(tool_calls=[_call("search_knowledge_base", query=task[:200])])
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


def observations(messages: list[dict[str, Any]]) -> list[Observation]:
    """Pair every tool message with the assistant call it answers, decoding JSON where possible."""
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    out: list[Observation] = []
    for message in messages:
        for call in message.get("tool_calls") or []:
            args = _loads(call["function"].get("arguments") or "{}")
            calls[call.get("id", "")] = (call["function"]["name"], args if isinstance(args, dict) else {})
        if message.get("role") == "tool":
            tool, args = calls.get(message.get("tool_call_id") or "", (str(message.get("name") or ""), {}))
            data = _unwrap(_loads(str(message.get("content") or "")))
            out.append(Observation(tool=tool, args=args, data=data, error=_error_of(data)))
    return out


def _error_of(data: Any) -> str | None:
    if isinstance(data, dict):
        if data.get("error") or data.get("error_type") or data.get("status") == "denied":
            detail = data.get("error") or data.get("message") or data.get("reason") or data.get("status")
            kind = data.get("error_type") or data.get("type")
            return f"{kind}: {detail}" if kind else str(detail)
        return None
    text = str(data).strip().lower()
    return str(data)[:300] if text.startswith(("error", "denied", "rejected")) else None


def _unwrap(data: Any) -> Any:
    return data["result"] if isinstance(data, dict) and isinstance(data.get("result"), dict) else data


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return match.group(0) if match else None


def _offered(name: str, tool_names: set[str]) -> bool:
    return not tool_names or name in tool_names


def _money(data: dict[str, Any]) -> str:
    return f"{data.get('amount', '?')} {data.get('currency', '')}".strip()


def _refund_summary(refund: Observation) -> str:
    data = refund.data if isinstance(refund.data, dict) else {}
    refund_id = data.get("refund_id") or data.get("id") or "(no id returned)"
    amount = data.get("amount", refund.args.get("amount"))
    currency = data.get("currency", refund.args.get("currency", ""))
    charge = refund.args.get("transaction_id", "the duplicate charge")
    return f"Refund {refund_id} of {amount} {currency} was issued for the duplicate charge {charge}."
