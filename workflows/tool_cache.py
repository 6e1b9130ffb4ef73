"""A conversation's tool-result cache: a read-only tool's answer reused within its declared TTL.

Only tools declared cacheable (`ToolSpec.cache_ttl_s`, refused on tools with side effects) are
cached. The cache is workflow state, filled from results already in history, so a hit is replay-safe
and schedules nothing. A successful side effect drops every cached read that shares an argument
value with it (a write on a record makes the reads of that record stale).
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core import models as m
    from core.conversation import CachedResult
    from core.toolspec import ToolSpec
    from workflows.acting import ToolRunner, record
    from workflows.loop_detect import canonical_args
    from workflows.routing import RoutedCall
    from workflows.state import compact

# Entries kept; the oldest go first. Each holds a clipped observation (workflows/state.py: compact).
MAX_ENTRIES = 64


def cache_key(tool: str, args: dict[str, Any]) -> str:
    return f"{tool}:{canonical_args(args)}"


class ToolCache:
    def __init__(self, entries: tuple[CachedResult, ...] = ()) -> None:
        self._entries: OrderedDict[str, CachedResult] = OrderedDict((e.key, e) for e in entries)
        self.hits = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, tool: str, args: dict[str, Any], now: datetime) -> CachedResult | None:
        entry = self._entries.get(cache_key(tool, args))
        if entry is None or entry.expires_at <= now:
            return None
        self.hits += 1
        return entry

    def put(self, spec: ToolSpec, args: dict[str, Any], done: m.ToolCallRecord, now: datetime) -> None:
        if spec.cache_ttl_s is None:
            return
        kept = compact(done)
        key = cache_key(spec.name, args)
        self._entries.pop(key, None)
        self._entries[key] = CachedResult(
            key=key,
            tool=spec.name,
            observation=kept.observation,
            result=kept.result,
            expires_at=now + timedelta(seconds=spec.cache_ttl_s),
        )
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)

    def invalidate(self, args: dict[str, Any]) -> int:
        """Drop the reads that name any of these argument values; how many were dropped."""
        values = {str(v) for v in args.values() if isinstance(v, str | int) and str(v)}
        stale = [key for key in self._entries if any(f'"{v}"' in key or f":{v}" in key for v in values)]
        for key in stale:
            del self._entries[key]
        return len(stale)

    def carried(self, now: datetime) -> tuple[CachedResult, ...]:
        return tuple(e for e in self._entries.values() if e.expires_at > now)


class CachingToolRunner(ToolRunner):
    """The single run's ToolRunner (loop check, precheck, approval, activity), with the cache first."""

    def __init__(self, cache: ToolCache, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cache = cache

    async def _call(
        self, turn: int, routed: RoutedCall, spec: ToolSpec, args: dict[str, Any], approver: str | None
    ) -> m.ToolCallRecord:
        if spec.cache_ttl_s is not None:
            hit = self._cache.get(spec.name, args, workflow.now())
            if hit is not None:
                done = record(turn, routed, m.ToolOutcome.OK, hit.observation, None, workflow.now())
                return done.model_copy(update={"result": hit.result, "cached": True})
        done = await super()._call(turn, routed, spec, args, approver)
        if done.outcome == m.ToolOutcome.OK:
            if spec.irreversible or spec.side_effect:
                self._cache.invalidate(args)
            else:
                self._cache.put(spec, args, done, workflow.now())
        return done
