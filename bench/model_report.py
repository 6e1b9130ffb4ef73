"""The summary bench/model.py prints: each figure beside its limit or baseline, with the ratio."""

from __future__ import annotations

from typing import Any

from bench.perf_common import table


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def _speed_rows(s: dict[str, Any]) -> list[list[str]]:
    limit = s["limit"]
    return [
        [
            "prompt tok/s (uncached)",
            f"{s['ours_prompt_tps']:.1f}",
            f"{limit['prompt_tps']:.1f}",
            f"{s['prompt_ratio']:.2f}",
            f"{s['prompt_tokens']} tokens; llama.cpp's own for our call {s['server_prompt_tps']:.1f}",
        ],
        [
            "generation tok/s",
            f"{s['ours_gen_tps']:.2f}",
            f"{limit['gen_tps']:.2f}",
            f"{s['gen_ratio']:.2f}",
            f"target ≥ 0.85; {s['gen_tokens']} tokens; llama.cpp's own for our call "
            f"{s['server_gen_tps']:.2f}; medians of calls interleaved with the limit's, ratio the median "
            f"of each pair's (ratio of medians {_ratio(s['ours_gen_tps'], limit['gen_tps'])}); "
            f"other processes took {s.get('others_cpu_share', 0.0):.0%} of the CPUs",
        ],
    ]


def _latency_rows(before: dict[str, Any], now: dict[str, Any]) -> list[list[str]]:
    rows = []
    for label, data in (("before", before), ("now", now)):
        first, again = data["first_call_s"], data["again"]["wall_s"]
        rows.append(
            [
                f"first call after start / a warm call ({label})",
                f"{first:.2f} s / {again:.2f} s",
                "",
                _ratio(first, again),
                "target ≤ 1.5 (now)",
            ]
        )
    rows.append(
        [
            "time to first text, demo first turn, warm worker",
            f"{now['again']['ttft_s']:.2f} s",
            f"{before['again']['ttft_s']:.2f} s",
            _ratio(now["again"]["ttft_s"], before["again"]["ttft_s"]),
            "target ≤ 2 s",
        ]
    )
    rows.append(
        [
            "time to first text, unseen task, warm worker",
            f"{now['unseen']['ttft_s']:.2f} s",
            f"{before['unseen']['ttft_s']:.2f} s",
            _ratio(now["unseen"]["ttft_s"], before["unseen"]["ttft_s"]),
            f"{now['unseen']['prompt_n']} prompt tokens processed (before: {before['unseen']['prompt_n']})",
        ]
    )
    demo_now, demo_before = now["cases"][0], before["cases"][0]
    rows.append(
        [
            "make demo's case, worker ready → answer",
            f"{demo_now['seconds']:.1f} s",
            f"{demo_before['seconds']:.1f} s",
            _ratio(demo_now["seconds"], demo_before["seconds"]),
            f"target ≤ 0.5; now {_case_note(demo_now)}, before {_case_note(demo_before)}",
        ]
    )
    rows.append(
        [
            "all demo cases, worker ready → last answer",
            f"{now['cases_s']:.1f} s",
            f"{before['cases_s']:.1f} s",
            _ratio(now["cases_s"], before["cases_s"]),
            f"{len(now['cases'])} cases, one after another",
        ]
    )
    return rows


def _case_note(case: dict[str, Any]) -> str:
    tokens = f"{case['prompt_tokens']}/{case['completion_tokens']} tokens"
    return f"{case['status']} in {case['turns']} turns, {tokens}"


def _start_rows(before: dict[str, Any], now: dict[str, Any]) -> list[list[str]]:
    rows = []
    for label, d in (("before", before), ("now", now)):
        warm_s = sum(w["seconds"] for w in d["warmed"])
        warm_tokens = sum(w["prompt_tokens"] for w in d["warmed"])
        rows.append(
            [
                label,
                f"{d['ready_s']:.1f}",
                f"{warm_s:.1f} ({warm_tokens} tokens)",
                f"{d['rss_started_mb'] - d['rss_before_mb']:.0f}",
                f"{d['rss_ready_mb'] - d['rss_started_mb']:.0f}",
            ]
        )
    return rows


def _case_rows(data: dict[str, Any]) -> list[list[str]]:
    rows = []
    for label, d in data["configs"].items():
        for i, c in enumerate(d["cases"], 1):
            rows.append(
                [
                    label,
                    str(i),
                    c["status"],
                    str(c["turns"]),
                    f"{c['seconds']:.1f}",
                    f"{c['first_call_s']:.1f}",
                    f"{c['prompt_tokens']}/{c['completion_tokens']}",
                    str(c["refunds"]),
                ]
            )
    return rows


def report(data: dict[str, Any]) -> list[str]:
    before, now = data["configs"]["before"], data["configs"]["now"]
    lines = ["Embedded model, this machine (ours vs limit or baseline):"]
    lines += table(["figure", "ours/now", "limit/before", "ratio", "note"], _speed_rows(data["speeds"]))
    lines += ["", "Latency (now vs before, the same run):"]
    lines += table(["figure", "now", "before", "ratio", "note"], _latency_rows(before, now))
    lines += ["", "Start-up (server start → ready), memory of this process:"]
    lines += table(["config", "ready s", "warm-up s", "model MB", "warm-up MB"], _start_rows(before, now))
    lines += ["", "Demo cases (the operator approves at once):"]
    header = ["config", "case", "status", "turns", "s", "first call s", "tokens in/out", "refunds"]
    lines += table(header, _case_rows(data))
    lines += ["", "Tokens before the task (llama.cpp's tokenizer):"]
    rows = [
        [v, str(t["system"]), str(t["tools"]), str(t["prefix"]), f"{t['system_chars']}/{t['tools_chars']}"]
        for v, t in data["tokens"].items()
    ]
    lines += table(["prompt", "system", "tool schemas", "first-turn prefix", "chars sys/tools"], rows)
    loads = ", ".join(f"{k}: {v['extra'].get('load_after', '?')}" for k, v in data["configs"].items())
    lines += ["", f"load average after each configuration: {loads} (the bench itself keeps 2 cores busy)"]
    return lines
