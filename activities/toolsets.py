"""Every toolset a deployment offers, by name; a run picks one (`AgentRequest.toolset`)."""

from __future__ import annotations

from activities.tools.bench_tools import REGISTRY as BENCH
from activities.tools.catalog import REGISTRY as SUPPORT
from core.toolspec import ToolRegistry

DEFAULT_TOOLSET = "support"
# "bench": web_search, calculate and summarise for bench/retries.py (fault-injection benchmark).
TOOLSETS: dict[str, ToolRegistry] = {DEFAULT_TOOLSET: SUPPORT, "bench": BENCH}
