"""A deterministic stand-in for a competent model on the shop's cases, for tests and the scripted provider.

It reads the shopper's message and the observations so far, and answers as the prompt asks a model to:
every independent lookup in one reply (product and shipping at once, order and parcel at once), a
return proposed only when the shopper asks for one and the order says it is returnable, failures
reported rather than retried, and a final answer built from the tools' own figures.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from activities.llm.scripted import (
    Observation,
    ScriptedReply,
    ScriptedToolCall,
    first_user_text,
    observations,
)

_ORDER = re.compile(r"\bORD-[0-9]{4,6}\b", re.IGNORECASE)
_PRODUCT = re.compile(r"\b(?!ORD-)(?:PRD-[0-9]{4}|[A-Z]{3}-[0-9]{3})\b", re.IGNORECASE)
# Not part of an id such as ORD-1001 or KET-200: no letter, digit or dash on either side.
_POSTCODE = re.compile(r"(?<![\w-])([0-9]{2}-[0-9]{3}|[0-9]{4} ?[A-Z]{2}|[0-9]{4,5})(?![\w-])")
_CITIES = {
    "DE": ("berlin", "munich", "münchen", "hamburg", "cologne", "köln", "germany", "deutschland"),
    "AT": ("vienna", "wien", "graz", "austria"),
    "NL": ("amsterdam", "rotterdam", "netherlands", "holland"),
    "BE": ("brussels", "antwerp", "belgium"),
    "FR": ("paris", "lyon", "france"),
    "PL": ("warsaw", "krakow", "poland"),
}
_SHIPPING = ("arriv", "deliver", "ship", "track", "parcel", "package", "where is", "when will")
_RETURN = ("return", "send back", "send it back", "refund")
# "Can I still return it?" asks about the window; only a request starts a return.
_ONLY_ASKING = ("can i", "could i", "until when", "how long", "is it possible", "am i able")
_REQUESTING = ("please", "i want", "i'd like", "i would like", "start a return", "send back", "send it back")
_DAMAGE = ("broken", "damaged", "defective", "faulty", "scratched", "does not work", "doesn't work")
_NAME_NOISE = frozenset({"set", "with", "and", "for", "blue", "white", "grey", "black"})
HELP = (
    "I can help with products, orders, deliveries and returns. Please share the order id (like ORD-1001) "
    "or the product's SKU (like KET-200)."
)


@dataclass(frozen=True)
class Ask:
    """What the shopper's message asks for, read with plain rules."""

    text: str
    orders: tuple[str, ...]
    products: tuple[str, ...]
    postcode: str | None
    country: str
    shipping: bool
    wants_return: bool
    wants_human: bool

    @classmethod
    def parse(cls, text: str, human: re.Pattern[str]) -> Ask:
        lowered = text.lower()
        postcode = _POSTCODE.search(text)
        asked_return = any(w in lowered for w in _RETURN)
        only_asking = any(w in lowered for w in _ONLY_ASKING) and not any(w in lowered for w in _REQUESTING)
        return cls(
            text=text,
            orders=tuple(dict.fromkeys(m.upper() for m in _ORDER.findall(text))),
            products=tuple(dict.fromkeys(m.upper() for m in _PRODUCT.findall(text))),
            postcode=postcode.group(1) if postcode else None,
            country=_country(lowered, postcode.group(1) if postcode else ""),
            # "It arrived broken, I want to return it" is about the return, not the parcel.
            shipping=any(w in lowered for w in _SHIPPING) and not (asked_return and not only_asking),
            wants_return=asked_return and not only_asking,
            wants_human=human.search(text) is not None,
        )


def _country(lowered: str, postcode: str) -> str:
    for country, words in _CITIES.items():
        if any(re.search(rf"\b{re.escape(w)}\b", lowered) for w in words):
            return country
    if re.fullmatch(r"[0-9]{4} ?[A-Z]{2}", postcode):
        return "NL"
    return "PL" if re.fullmatch(r"[0-9]{2}-[0-9]{3}", postcode) else "DE"


def _call(name: str, **arguments: Any) -> ScriptedToolCall:
    return ScriptedToolCall(name=name, arguments={k: v for k, v in arguments.items() if v is not None})


def _signature(name: str, arguments: dict[str, Any]) -> str:
    return name + json.dumps(arguments, sort_keys=True)


def _offered(name: str, tool_names: set[str]) -> bool:
    return not tool_names or name in tool_names


class ShopPolicy:
    """The shop's scripted model: `reply(messages, tool_names)` as `activities.llm.scripted.Policy`."""

    def __init__(self, human_phrases: tuple[str, ...] = ()) -> None:
        words = "|".join(map(re.escape, human_phrases)) or r"(?!x)x"
        self._human = re.compile(rf"\b({words})\b|!{{3,}}", re.IGNORECASE)

    def parse(self, text: str) -> Ask:
        return Ask.parse(text, self._human)

    def reply(self, messages: list[dict[str, Any]], tool_names: set[str]) -> ScriptedReply:
        ask = self.parse(first_user_text(messages))
        seen = observations(messages)
        if ask.wants_human and _offered("escalate_to_human", tool_names):
            if not any(o.tool == "escalate_to_human" for o in seen):
                return _escalation(ask)
            return ScriptedReply(content=_answer(ask, seen))
        if any(o.tool == "process_return" for o in seen):
            return ScriptedReply(content=_answer(ask, seen))
        if calls := _lookups(ask, seen, tool_names):
            return ScriptedReply(content="Looking that up.", tool_calls=calls)
        if ask.wants_return and (proposal := _propose_return(ask, seen, tool_names)) is not None:
            return proposal
        return ScriptedReply(content=_answer(ask, seen) or HELP)


def _lookups(ask: Ask, seen: list[Observation], tool_names: set[str]) -> list[ScriptedToolCall]:
    """Every lookup the message needs that has not been made yet: independent, so all in one reply."""
    wanted: list[tuple[str, dict[str, Any]]] = [("get_product_info", {"product": p}) for p in ask.products]
    if ask.shipping and ask.products and ask.postcode:
        where = {"product": ask.products[0], "postcode": ask.postcode, "country": ask.country}
        wanted.append(("get_shipping_info", where))
    wanted += [("check_order_status", {"order_id": o}) for o in ask.orders]
    if ask.shipping and ask.orders and not (ask.products and ask.postcode):
        wanted.append(("get_shipping_info", {"order_id": ask.orders[0]}))
    made = {_signature(o.tool, o.args) for o in seen}
    return [
        _call(name, **args)
        for name, args in wanted
        if _offered(name, tool_names) and _signature(name, args) not in made
    ]


def _escalation(ask: Ask) -> ScriptedReply:
    summary = f"The shopper wrote: {ask.text.strip()[:400]}"
    order = ask.orders[0] if ask.orders else None
    return ScriptedReply(
        content="The shopper asked for a person; handing over.",
        tool_calls=[
            _call(
                "escalate_to_human", reason="the shopper asked for a person", summary=summary, order_id=order
            )
        ],
    )


def _propose_return(ask: Ask, seen: list[Observation], tool_names: set[str]) -> ScriptedReply | None:
    """process_return when the order allows it, else None (the answer then explains the return_note)."""
    order = next((o.data for o in seen if o.tool == "check_order_status" and not o.error), None)
    if (
        not isinstance(order, dict)
        or not order.get("returnable")
        or not _offered("process_return", tool_names)
    ):
        return None
    line = _line_meant(ask, order.get("lines") or [])
    if line is not None and not line.get("returnable_quantity"):
        why = (
            "was already returned"
            if line.get("returned_quantity") == line.get("quantity")
            else "is final sale"
        )
        found = _order_sentence(order, with_window=False)
        return ScriptedReply(
            content=f"{found} The {line.get('name')} ({line.get('sku')}) {why}, so it cannot be returned."
        )
    sku = line.get("sku") if line is not None else None
    what = f"{sku} from {order['order_id']}" if sku else order["order_id"]
    return ScriptedReply(
        content=f"{what} can be returned until {order.get('return_until')}; asking for approval.",
        tool_calls=[_call("process_return", order_id=order["order_id"], reason=_reason(ask.text), sku=sku)],
    )


def _line_meant(ask: Ask, lines: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The order line the shopper names by SKU or by a word of its name; None: the whole order."""
    lowered = ask.text.lower()
    for line in lines:
        if line.get("sku") in ask.products:
            return line
    for line in lines:
        words = {
            w for w in re.findall(r"[a-z]{3,}", str(line.get("name", "")).lower()) if w not in _NAME_NOISE
        }
        if any(re.search(rf"\b{w}s?\b", lowered) for w in words):
            return line
    return None


def _reason(text: str) -> str:
    lowered = text.lower()
    damage = next((w for w in _DAMAGE if w in lowered), None)
    if damage is not None:
        return f"the item is {damage}"
    because = re.search(r"\bbecause\b([^.!?\n]{3,120})", text, re.IGNORECASE)
    return because.group(1).strip() if because else "the shopper asked to return it"


# ── the final answer, from the tools' own figures ───────────────────────────


def _answer(ask: Ask, seen: list[Observation]) -> str:
    sentences = [_sentence(ask, o) for o in seen]
    return " ".join(s for s in sentences if s)


def _sentence(ask: Ask, obs: Observation) -> str:
    data = obs.data if isinstance(obs.data, dict) else {}
    if obs.error:
        return f"I could not complete {obs.tool}: {obs.error}."
    if obs.tool == "get_product_info":
        return _product_sentence(data)
    if obs.tool == "check_order_status":
        return _order_sentence(data, with_window=_asks_window(ask))
    if obs.tool == "escalate_to_human":
        ticket = data.get("ticket_id")
        return f"I have handed your case to a colleague (ticket {ticket}), who replies within a day."
    return str(data.get("message") or "")


def _order_sentence(data: dict[str, Any], with_window: bool) -> str:
    total = f"{data.get('total')} {data.get('currency', '')}".strip()
    placed = data.get("placed_on")
    found = f"Order {data.get('order_id')} is {data.get('status')} (placed {placed}, total {total})."
    return f"{found} {data.get('return_note', '')}".strip() if with_window else found


def _asks_window(ask: Ask) -> bool:
    return any(w in ask.text.lower() for w in _RETURN)


def _product_sentence(data: dict[str, Any]) -> str:
    head = (
        f"{data.get('sku')} ({data.get('name')}) costs {data.get('price')} {data.get('currency', '')}".strip()
    )
    if not data.get("in_stock"):
        return f"{head} and is out of stock right now."
    where = ", ".join(f"{s['city']} {s['quantity']}" for s in data.get("stock", []) if s.get("quantity"))
    return f"{head} and is in stock: {data.get('total_stock')} available ({where})."
