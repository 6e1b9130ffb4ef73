"""Every toolset a deployment offers, by name; a run picks one (`AgentRequest.toolset`)."""

from __future__ import annotations

from activities.tools.bench_tools import REGISTRY as BENCH
from activities.tools.catalog import REGISTRY as SUPPORT
from activities.tools.context_tools import REGISTRY as CONTEXT
from activities.tools.noop_tools import REGISTRY as PERF
from core.models import ToolSchema
from core.toolspec import ToolRegistry

DEFAULT_TOOLSET = "support"
# "perf": no-op and 100 ms tools for bench/overhead.py and bench/throughput.py.
# "context": fetch_page and fetch_article (~5 KB documents) for bench/context.py (history growth).
# "bench": web_search, calculate and summarise for bench/retries.py (fault-injection benchmark).
TOOLSETS: dict[str, ToolRegistry] = {
    DEFAULT_TOOLSET: SUPPORT,
    "bench": BENCH,
    "perf": PERF,
    "context": CONTEXT,
}
# Computed once per worker process: this module is passed through the workflow sandbox, so runs do not
# rebuild the JSON schemas (measured ~2.9 ms per run when they did, bench/overhead.py).
SCHEMAS: dict[str, tuple[ToolSchema, ...]] = {name: registry.schemas() for name, registry in TOOLSETS.items()}
IRREVERSIBLE: frozenset[str] = frozenset(
    spec.name for registry in TOOLSETS.values() for spec in registry if spec.irreversible
)
