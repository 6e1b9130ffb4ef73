"""Embedded-model benchmark (issue 19): llama.cpp's own speed on this machine, ours, and the demo's.

    python -m bench.model [--tiny] [--out FILE]      (make bench-model)
    python -m bench.model --sweep [--rounds 2]       threads and batch sizes, one server each
    python -m bench.model --slots                    slots and prompt cache with two agents' prefixes

One run measures two configurations from a cold start each, on one dev server we start: the settings
before issue 19 (no warm-up, llama.cpp's default batch sizes and prompt cache, the support-v2 prompt;
bench/model_baseline.py) and today's. Each figure is printed beside its limit or its baseline with
the ratio, and the load average beside it. Exit 1 when something could not be measured, 2 on bad options.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

from activities.llm.llama_settings import LlamaSettings
from activities.llm.local_model import LocalModelServer, ensure_model_file
from agents.merchant_support import AGENT as DEMO
from bench import entry, model_baseline
from bench import perf_common as pc
from bench.model_calls import Caller
from bench.model_cases import CASES
from bench.model_figures import prompt_tokens, speeds
from bench.model_report import report
from bench.model_run import Config, Measured, measure


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.model", description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="one demo case of 2 turns, short calls (tests)")
    parser.add_argument("--sweep", action="store_true", help="sweep threads and batch sizes instead")
    parser.add_argument("--slots", action="store_true", help="compare slot / prompt-cache settings instead")
    parser.add_argument("--rounds", type=pc.positive, default=2, help="rounds of the sweep (2)")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("AGENT_DATA_DIR", ".data")))
    return parser.parse_args(argv)


def say(line: str) -> None:
    print(line, flush=True)


def configs() -> list[Config]:
    return [
        Config("before", model_baseline.BEFORE, warm=False, agent=model_baseline.agent_before()),
        Config("now", LlamaSettings.from_env(), warm=True, agent=DEMO),
    ]


async def compare(args: argparse.Namespace, model: Path) -> dict[str, Any]:
    cases = CASES[:1] if args.tiny else CASES
    max_turns = 2 if args.tiny else 8
    server = await pc.start_server("bench-model", pc.TUNED)
    results: dict[str, Measured] = {}
    extra: dict[str, Any] = {}

    async def figures(llama: LocalModelServer, caller: Caller, out: Measured) -> None:
        say(f"    tokens/s, llama.cpp alone and through llm.complete (load {pc.load_average()})")
        extra["speeds"] = asdict(await speeds(llama, caller, args.tiny, say))
        extra["tokens"] = await prompt_tokens(llama)

    try:
        with tempfile.TemporaryDirectory(prefix="bench-model-") as tmp:
            for cfg in configs():
                say(f"\n{cfg.label}: load average {pc.load_average()}")
                hook = figures if cfg.label == "now" else None
                store = Path(tmp) / cfg.label
                results[cfg.label] = await measure(
                    cfg, model, server.client, store, cases, max_turns, say, after=hook
                )
                results[cfg.label].extra["load_after"] = pc.load_average()
    finally:
        server.stop()
    return {"configs": {k: _plain(v) for k, v in results.items()}, **extra, "tiny": args.tiny}


def _plain(m: Measured) -> dict[str, Any]:
    data = asdict(m)
    data["first_call_s"], data["cases_s"] = m.first_call_s, m.cases_s
    for key in ("again", "unseen"):
        call = getattr(m, key)
        if call is not None:
            data[key] = {"wall_s": call.wall_s, "ttft_s": call.ttft_s, "cache_n": call.server.cache_n}
            data[key]["prompt_n"] = call.server.prompt_n
    return data


async def amain(args: argparse.Namespace) -> int:
    started = time.monotonic()
    model = ensure_model_file(args.data_dir)
    say(f"bench-model: {model.name}, {os.cpu_count()} CPUs, load average {pc.load_average()}")
    try:
        if args.sweep or args.slots:
            from bench import model_sweep

            lines = await model_sweep.main(model, args, say)
        else:
            data = await compare(args, model)
            lines = report(data)
            if args.out:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(data, indent=1, default=str))
    except pc.Unreachable as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    say("\n".join(["", *lines, f"wall time {time.monotonic() - started:.0f} s, load {pc.load_average()}"]))
    return 0


def main(argv: list[str] | None = None) -> NoReturn:
    entry.run(amain, parse_args(argv), level="WARNING")


if __name__ == "__main__":
    main()
