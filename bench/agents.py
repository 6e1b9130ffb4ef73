"""The benchmarks' own agents, served by the benches' workers only (a production worker has none).

perf     no-op and 100 ms tools, some local: bench/overhead.py, bench/throughput.py
context  ~5 KB documents: bench/context.py (history growth)
bench    web_search, calculate, summarise: bench/retries.py (fault injection)
"""

from __future__ import annotations

from bench.bench_tools import REGISTRY as BENCH_TOOLS
from bench.context_tools import REGISTRY as CONTEXT_TOOLS
from bench.noop_tools import REGISTRY as PERF_TOOLS
from core.agent import Agent, Instructions, PromptVersion


def _instructions(name: str, text: str) -> Instructions:
    version = PromptVersion(version=f"{name}-v1", text=text, changelog="The benchmark's first prompt.")
    return Instructions(versions=(version,), current=version.version)


PERF = Agent[None](
    name="perf",
    instructions=_instructions("perf", "You run steps with tools, then say done."),
    tools=tuple(PERF_TOOLS),
)
CONTEXT = Agent[None](
    name="context",
    instructions=_instructions("context", "You read documents with tools and answer from them."),
    tools=tuple(CONTEXT_TOOLS),
)
BENCH = Agent[None](
    name="bench",
    instructions=_instructions(
        "bench", "You answer questions with web_search, calculate and summarise, then answer briefly."
    ),
    tools=tuple(BENCH_TOOLS),
)
