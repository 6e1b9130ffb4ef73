"""The benchmark toolset: web_search, calculate and summarise, each declared once.

Pure and in-memory so the workflow can import it for schemas; the handlers never touch the store.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.errors import InvalidInputError
from core.toolspec import ToolContext, ToolRegistry, ToolSpec

MAX_EXPRESSION_CHARS = 200
MAX_EXPONENT = 64
MAX_MAGNITUDE = 1e100


class _Args(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WebSearchArgs(_Args):
    query: str = Field(min_length=1, max_length=500, description="plain keywords")


class CalculateArgs(_Args):
    expression: str = Field(
        min_length=1, max_length=MAX_EXPRESSION_CHARS, description="arithmetic: numbers, + - * / ** ( )"
    )


class SummariseArgs(_Args):
    text: str = Field(min_length=1, max_length=20_000)
    max_words: int = Field(20, ge=1, le=200)


class SearchHit(_Args):
    id: str
    title: str
    snippet: str
    score: int


class SearchResult(_Args):
    query: str
    hits: list[SearchHit]


class CalculateResult(_Args):
    expression: str
    value: str


class SummariseResult(_Args):
    summary: str
    words: int


# ── web_search over a small fixed corpus ────────────────────────────────────

CORPUS: tuple[tuple[str, str, str], ...] = (
    ("doc-01", "Retry policies", "A retry policy bounds attempts with exponential backoff and jitter."),
    ("doc-02", "Circuit breakers", "A circuit breaker opens after repeated failures and fails calls fast."),
    ("doc-03", "Rate limits", "HTTP 429 means slow down; honour the Retry-After header before calling."),
    ("doc-04", "Idempotency keys", "An idempotency key makes a repeated write return the first result."),
    ("doc-05", "Event sourcing", "Event histories record every state change so a run can be replayed."),
    ("doc-06", "Vector databases", "Vector databases index embeddings for nearest neighbour lookup."),
    ("doc-07", "Tokenizers", "Tokenizers split text into subword units before a model reads it."),
    ("doc-08", "Dead letter queues", "Dead letter queues park messages that repeatedly fail processing."),
    ("doc-09", "Saga pattern", "A saga undoes completed steps with compensations when a later one fails."),
    ("doc-10", "Load shedding", "Load shedding drops excess requests so an overloaded service survives."),
    ("doc-11", "Canary releases", "Canary releases send a small share of traffic to a new version first."),
    ("doc-12", "Heartbeats", "Long activities send heartbeats so a stalled worker is detected quickly."),
)
_WORD = re.compile(r"[a-z0-9]+")


def _terms(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2}


def search_corpus(query: str, limit: int = 3) -> list[SearchHit]:
    """Rank documents by shared terms (title terms count double); ties keep corpus order."""
    wanted = _terms(query)
    scored = []
    for doc_id, title, body in CORPUS:
        score = 2 * len(wanted & _terms(title)) + len(wanted & _terms(body))
        if score:
            scored.append(SearchHit(id=doc_id, title=title, snippet=body, score=score))
    scored.sort(key=lambda hit: -hit.score)
    return scored[:limit]


async def web_search(ctx: ToolContext[None], args: WebSearchArgs) -> SearchResult:
    return SearchResult(query=args.query, hits=search_corpus(args.query))


# ── calculate: a safe arithmetic evaluator (no eval) ────────────────────────

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def _bounded(value: float) -> float:
    if isinstance(value, complex) or not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
        raise InvalidInputError("the result is out of range", details={"limit": MAX_MAGNITUDE})
    return value


def _power(base: float, exponent: float) -> float:
    if abs(exponent) > MAX_EXPONENT:
        raise InvalidInputError(f"exponent {exponent} is larger than {MAX_EXPONENT}")
    if base == 0 and exponent < 0:
        raise InvalidInputError("zero cannot be raised to a negative power")
    return _bounded(float(base) ** exponent if exponent < 0 else base**exponent)


def _eval(node: ast.AST) -> float:
    if isinstance(node, ast.Constant):
        value = node.value
        # True and False are ints to Python, but not numbers here.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return _bounded(value)

    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            return _power(left, right)
        if isinstance(node.op, ast.Div) and right == 0:
            raise InvalidInputError("division by zero")
        return _bounded(_BINARY[type(node.op)](left, right))
    raise InvalidInputError(
        f"unsupported syntax: {type(node).__name__}",
        details={"allowed": "numbers, + - * / ** and parentheses"},
    )


def evaluate(expression: str) -> float:
    """Evaluate plain arithmetic or raise InvalidInputError; names, calls and attributes are refused."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise InvalidInputError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError) as exc:
        reason = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise InvalidInputError(f"not an arithmetic expression: {expression!r}: {reason}") from None
    return _eval(tree.body)


def format_number(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.6g}"


async def calculate(ctx: ToolContext[None], args: CalculateArgs) -> CalculateResult:
    return CalculateResult(expression=args.expression, value=format_number(evaluate(args.expression)))


# ── summarise: extractive, deterministic ────────────────────────────────────


def summarise_text(text: str, max_words: int) -> SummariseResult:
    """The leading words of the text, at most `max_words`; an ellipsis marks a cut."""
    words = text.split()
    kept = words[:max_words]
    summary = " ".join(kept) + ("…" if len(words) > max_words else "")
    return SummariseResult(summary=summary, words=len(kept))


async def summarise(ctx: ToolContext[None], args: SummariseArgs) -> SummariseResult:
    return summarise_text(args.text, args.max_words)


# Five consecutive dependency failures across all runs: one call's own short outage (up to four
# attempts in the bench's fault plan) must not take the tool away from every other run.
BREAKER: dict[str, Any] = {"breaker_threshold": 5, "breaker_cooldown_s": 5.0, "breaker_successes": 1}

WEB_SEARCH = ToolSpec(
    name="web_search",
    description="Search the document collection with plain keywords; returns the top 3 documents.",
    args_model=WebSearchArgs,
    handler=web_search,
    # A cached snapshot of the index, served (marked degraded) while the search dependency is down.
    fallback=web_search,
    timeout=timedelta(seconds=10),
    max_attempts=5,
    **BREAKER,
)
CALCULATE = ToolSpec(
    name="calculate",
    description="Evaluate arithmetic with numbers, + - * / ** and parentheses, e.g. '(12 + 7) * 3'.",
    args_model=CalculateArgs,
    handler=calculate,
    timeout=timedelta(seconds=10),
    max_attempts=5,
    **BREAKER,
)
SUMMARISE = ToolSpec(
    name="summarise",
    description="Summarise a text in at most max_words words.",
    args_model=SummariseArgs,
    handler=summarise,
    # The local extractive summariser, served (marked degraded) while the summariser service is down.
    fallback=summarise,
    timeout=timedelta(seconds=10),
    max_attempts=5,
    **BREAKER,
)
REGISTRY = ToolRegistry([WEB_SEARCH, CALCULATE, SUMMARISE])
