"""A tool declared once, from a typed async function: the schema comes from its signature and docstring.

    @tool(irreversible=True)
    async def process_return(ctx: ToolContext[ShopDeps], order_id: OrderId, reason: str) -> ReturnResult:
        \"\"\"Start a return of a delivered order.

        Args:
            order_id: The order, e.g. ORD-1001.
            reason: Why the shopper returns it.
        \"\"\"

The first parameter is the ToolContext; the others become a pydantic model (forbidding extra
fields) whose JSON schema the model sees, with each parameter's line of the docstring's `Args:`
section as its description. The result must be a pydantic model. `tool(...)` takes every ToolSpec
option (precheck, fallback, breaker, irreversible, side_effect, local, timeout, truncation,
cache_ttl_s for a read-only tool a conversation may answer from its cache, ...).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

from core.toolspec import ToolContext, ToolSpec

_ARG_LINE = re.compile(r"^\s{2,}(\w+)\s*(?:\([^)]*\))?:\s*(.+)$")


def tool(**options: Any) -> Callable[[Callable[..., Awaitable[BaseModel]]], ToolSpec]:
    """Make a ToolSpec of the decorated function; `options` are ToolSpec fields."""

    def make(fn: Callable[..., Awaitable[BaseModel]]) -> ToolSpec:
        return function_tool(fn, **options)

    return make


def function_tool(fn: Callable[..., Awaitable[BaseModel]], **options: Any) -> ToolSpec:
    if not inspect.iscoroutinefunction(fn):
        raise TypeError(f"{fn.__name__}: a tool must be an async function")
    summary, described = _docstring(fn)
    args_model = _args_model(fn, described)
    names = tuple(args_model.model_fields)

    async def handler(ctx: ToolContext[Any], args: BaseModel) -> BaseModel:
        return await fn(ctx, **{name: getattr(args, name) for name in names})

    handler.__name__ = fn.__name__
    return ToolSpec(
        name=options.pop("name", fn.__name__),
        description=options.pop("description", summary),
        args_model=args_model,
        handler=handler,
        result_model=options.pop("result_model", get_type_hints(fn)["return"]),
        **options,
    )


def _docstring(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """The text before `Args:` (the tool's description) and each parameter's description."""
    doc = inspect.getdoc(fn) or ""
    head, _, args = doc.partition("\nArgs:")
    summary = " ".join(head.split())
    if not summary:
        raise ValueError(f"{fn.__name__}: a tool needs a docstring saying what it does")
    described: dict[str, str] = {}
    last: str | None = None
    for line in args.splitlines():
        match = _ARG_LINE.match("  " + line.strip()) if line.strip() else None
        if match and (last is None or len(line) - len(line.lstrip()) <= _indent_of(args)):
            last = match.group(1)
            described[last] = match.group(2).strip()
        elif last is not None and line.strip():  # a description continued on the next line
            described[last] += " " + line.strip()
    return summary, described


def _indent_of(args: str) -> int:
    """The indentation of the first parameter line of an `Args:` section."""
    first = next((line for line in args.splitlines() if line.strip()), "")
    return len(first) - len(first.lstrip())


def _args_model(fn: Callable[..., Any], described: dict[str, str]) -> type[BaseModel]:
    hints = get_type_hints(fn, include_extras=True)
    params = list(inspect.signature(fn).parameters.values())
    if not params:
        raise TypeError(f"{fn.__name__}: the first parameter must be the ToolContext")
    fields: dict[str, Any] = {}
    for param in params[1:]:
        if param.name not in hints:
            raise TypeError(f"{fn.__name__}: parameter {param.name!r} needs a type annotation")
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (hints[param.name], Field(default, description=described.get(param.name)))
    if not isinstance(hints.get("return"), type) or not issubclass(hints["return"], BaseModel):
        raise TypeError(f"{fn.__name__}: a tool must return a pydantic model")
    title = "".join(part.title() for part in fn.__name__.split("_")) + "Args"
    config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    model: type[BaseModel] = create_model(title, __config__=config, **fields)
    return model
