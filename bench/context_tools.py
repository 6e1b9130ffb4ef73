"""The "context" toolset: fetch_page and fetch_article, each returning a ~5 KB document.

For bench/context.py (history growth over long runs). Pure and in-memory, so the workflow can import
it for schemas; a document is a deterministic function of its number, so replays and reruns agree.
Two tools, called alternately by the bench's model, so the loop detector sees progress, not a streak.
"""

from __future__ import annotations

import random
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from core.toolspec import ToolContext, ToolRegistry, ToolSpec

DOCUMENT_CHARS = 5_000
MAX_NUMBER = 100_000

_TOPICS = (
    "settlement timing",
    "chargeback evidence",
    "refund windows",
    "card-present fallback",
    "payout holds",
    "fraud screening rules",
    "currency conversion",
    "statement descriptors",
    "dispute deadlines",
    "recurring billing",
)
_SENTENCES = (
    "Merchants on the standard plan receive payouts two business days after capture.",
    "A payout is held when the account's verification documents have expired or are missing.",
    "Chargebacks must be answered with evidence before the network deadline shown in the dashboard.",
    "Evidence should include the receipt, proof of delivery and any correspondence with the customer.",
    "Refunds can be issued in full or in part for up to one hundred and twenty days after capture.",
    "A refund never exceeds the captured amount, and fees of the original charge are not returned.",
    "Card-present transactions that fall back to magnetic stripe carry a higher dispute risk.",
    "Fraud screening scores each payment; payments above the review threshold wait for a decision.",
    "Currency conversion uses the mid-market rate at capture plus the plan's conversion margin.",
    "The statement descriptor is what the cardholder sees and should name the shop recognisably.",
    "Recurring charges need the customer's stored consent and a clear way to cancel the plan.",
    "Support agents must confirm the merchant's identity before discussing account details.",
    "When two captures share an order reference within minutes, check for a duplicate charge.",
    "A reversed authorisation disappears from the customer's statement within a few business days.",
    "Escalate to the risk team when a merchant's dispute rate exceeds the network's monitoring level.",
    "Reserve balances are released on the schedule agreed when the reserve was put in place.",
)


class _Args(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FetchPageArgs(_Args):
    page: int = Field(ge=1, le=MAX_NUMBER, description="handbook page number, from 1")


class FetchArticleArgs(_Args):
    article: int = Field(ge=1, le=MAX_NUMBER, description="help-centre article number, from 1")


class Document(_Args):
    kind: str
    number: int
    title: str
    text: str
    chars: int


def document(kind: str, number: int, size: int = DOCUMENT_CHARS) -> Document:
    """A readable document of about `size` characters; the same (kind, number) gives the same text."""
    rng = random.Random(f"{kind}-{number}")  # a str seed hashes with sha512: stable across processes
    topic = rng.choice(_TOPICS)
    title = f"Merchant operations {kind} {number}: {topic}"
    paragraphs: list[str] = []
    length = 0
    section = 0
    while length < size:
        section += 1
        body = " ".join(rng.choice(_SENTENCES) for _ in range(5))
        paragraph = f"{section}. {topic.capitalize()}, part {section}. {body}"
        paragraphs.append(paragraph)
        length += len(paragraph) + 2
    text = "\n\n".join(paragraphs)[:size]
    return Document(kind=kind, number=number, title=title, text=text, chars=len(text))


async def fetch_page(ctx: ToolContext[None], args: FetchPageArgs) -> Document:
    return document("handbook page", args.page)


async def fetch_article(ctx: ToolContext[None], args: FetchArticleArgs) -> Document:
    return document("help article", args.article)


FETCH_PAGE = ToolSpec(
    name="fetch_page",
    description="Read one page of the merchant operations handbook (about 5 KB of text).",
    args_model=FetchPageArgs,
    handler=fetch_page,
    timeout=timedelta(seconds=10),
)
FETCH_ARTICLE = ToolSpec(
    name="fetch_article",
    description="Read one help-centre article (about 5 KB of text).",
    args_model=FetchArticleArgs,
    handler=fetch_article,
    timeout=timedelta(seconds=10),
)
REGISTRY = ToolRegistry([FETCH_PAGE, FETCH_ARTICLE])
