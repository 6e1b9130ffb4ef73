"""Keep tool results within a byte budget so no payload nears Temporal's 2 MB limit.

Cuts the largest list or string first: lists keep whole leading records, strings keep their head.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from typing import Any

MAX_RESULT_BYTES = 64 * 1024
MAX_PASSES = 32
MAX_NOTES = 5
CUT_MARK = "…[truncated]"


def json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode())


def _shrinkable(node: Any) -> bool:
    if isinstance(node, str):
        return len(node) > len(CUT_MARK)
    # A one-item list of records is not cut as a list: the record inside is shrunk instead.
    return isinstance(node, list) and (len(node) > 1 or (len(node) == 1 and not _is_container(node[0])))


def _is_container(node: Any) -> bool:
    return isinstance(node, dict | list | str)


def _candidates(parent: dict[Any, Any] | list[Any], path: str) -> Iterator[tuple[int, str, Any, Any]]:
    """(size, path, parent, key) of every list or string that could be cut, at any depth."""
    items = parent.items() if isinstance(parent, dict) else enumerate(parent)
    for key, child in items:
        child_path = f"{path}.{key}" if isinstance(parent, dict) else f"{path}[{key}]"
        if _shrinkable(child):
            # len + 2 ranks strings well enough and avoids serialising every one on every pass.
            size = len(child) + 2 if isinstance(child, str) else json_size(child)
            yield size, child_path, parent, key
        if isinstance(child, dict | list):
            yield from _candidates(child, child_path)


def _cut(parent: Any, key: Any, size: int, target: int) -> tuple[int, int, str]:
    """Shrink parent[key] from `size` to about `target` bytes; returns (kept, original length, unit)."""
    node = parent[key]
    if isinstance(node, str):
        # Proportional to bytes per character; a later pass trims again if escapes made it overshoot.
        room = max(0, target - json_size(CUT_MARK))
        keep = min(len(node) - 1, len(node) * room // max(1, size - 2))
        parent[key] = node[:keep] + CUT_MARK
        return keep, len(node), "characters"
    # Measure from the front: only the records that are kept get serialised.
    keep, used = 0, 2
    for item in node:
        used += json_size(item) + 1
        if used > target:
            break
        keep += 1
    if keep == 0 and _is_container(node[0]):
        keep = 1  # keep one record and shrink inside it on a later pass
    parent[key] = node[:keep]
    return keep, len(node), "items"


def _describe(cuts: dict[str, tuple[int, int, str]], budget: int) -> str:
    parts = [f"{path}: kept the first {kept} of {total} {unit}" for path, (kept, total, unit) in cuts.items()]
    extra = len(parts) - MAX_NOTES
    shown = parts[:MAX_NOTES] + ([f"and {extra} more cuts"] if extra > 0 else [])
    return f"truncated to fit {budget} bytes; " + "; ".join(shown)


def fit(result: Any, budget: int = MAX_RESULT_BYTES) -> tuple[Any, str | None]:
    """Return (result, None) if it fits, else a cut copy and a note saying what was cut."""
    if json_size(result) <= budget:
        return result, None
    box: dict[str, Any] = {"result": json.loads(json.dumps(result, default=str))}
    cuts: dict[str, tuple[int, int, str]] = {}
    for _ in range(MAX_PASSES):
        excess = json_size(box) - budget
        if excess <= 0:
            break
        ranked = heapq.nlargest(2, _candidates(box, "$"), key=lambda c: c[0])
        if not ranked:
            break
        _, path, parent, key = ranked[0]
        size = json_size(parent[key])
        # Cut the largest part no lower than the runner-up (halving at most), so large parts share.
        runner_up = ranked[1][0] if len(ranked) > 1 else 0
        kept, total, unit = _cut(parent, key, size, max(size - excess, min(size // 2, runner_up)))
        path = path.replace("$.result", "result", 1)
        cuts[path] = (kept, cuts[path][1] if path in cuts else total, unit)
    if json_size(box) > budget:
        # Nothing left to cut sensibly (e.g. a huge flat object): fall back to a text preview.
        text = json.dumps(result, ensure_ascii=False, default=str)
        preview = text[:budget]
        while preview and json_size({"preview": preview}) > budget:
            preview = preview[: len(preview) * 3 // 4]  # escapes and multi-byte characters cost extra
        return {"preview": preview}, f"result of {len(text)} characters replaced by its first {len(preview)}"
    return box["result"], _describe(cuts, budget)
