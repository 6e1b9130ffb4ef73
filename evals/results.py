"""Stored eval results (`<data_dir>/evals/<agent>/<time>.json`) and the drift rule against the baseline.

The baseline is the agent's first stored result, or the one `baseline.json` names (rebase it after a
deliberate change). A drop of DRIFT_DROP or more of the baseline's pass rate is drift: an incident.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DRIFT_DROP = 0.10


def drifted(baseline: float, current: float, drop: float = DRIFT_DROP) -> bool:
    """A relative drop of `drop` or more (0.10: 10 % of the baseline's pass rate)."""
    return baseline > 0 and (baseline - current) / baseline >= drop - 1e-9


@dataclass(frozen=True)
class ResultStore:
    root: Path  # <data_dir>/evals

    def save(self, agent: str, doc: dict[str, Any], now: datetime | None = None) -> Path:
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.root / agent / f"{stamp}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"at": stamp, "agent": agent, **doc}, indent=2), encoding="utf-8")
        return path

    def recent(self, agent: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """The newest results first, without their per-case details."""
        dirs = [self.root / agent] if agent else sorted(p for p in self.root.glob("*") if p.is_dir())
        files = sorted((f for d in dirs for f in d.glob("2*.json")), key=lambda f: f.name, reverse=True)
        return [_brief(json.loads(f.read_text(encoding="utf-8")), f) for f in files[:limit]]

    def baseline(self, agent: str) -> dict[str, Any] | None:
        folder = self.root / agent
        pointer = folder / "baseline.json"
        if pointer.exists():
            named = folder / str(json.loads(pointer.read_text(encoding="utf-8"))["result"])
            return _brief(json.loads(named.read_text(encoding="utf-8")), named)
        files = sorted(folder.glob("2*.json"))
        return _brief(json.loads(files[0].read_text(encoding="utf-8")), files[0]) if files else None


def _brief(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    keys = ("at", "agent", "label", "cases", "passed", "pass_rate", "categories", "drift", "cost_usd")
    return {**{k: doc.get(k) for k in keys}, "file": path.name}
