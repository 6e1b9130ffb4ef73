"""The readable text of a `trace` report (cli/trace.py builds it from the run's history)."""

from __future__ import annotations

import json

from cli.history import Json


def _clip(text: object, limit: int = 300) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _ms(value: float | None, attempts: int) -> str:
    tail = f", {attempts} attempts" if attempts > 1 else ""
    return ("in flight" if value is None else f"{value:.0f} ms") + tail


def render(data: Json) -> list[str]:
    """The readable report: header (and the failure, first), each turn and its calls, signals, totals."""
    why = f" ({data['stop_reason']})" if data["stop_reason"] else ""
    lines = [f"run {data['workflow_id']}: {data['status'] or data['execution']}{why}"]
    if data["execution"] != "completed":
        lines[0] += f" — Temporal execution {data['execution']}"
    lines += [f"task: {_clip(data['task'], 200)}"] if data["task"] else []
    if fork := data.get("forked_from"):
        lines.append(
            f"forked from {fork['parent_id']} at turn {fork['at_turn']}: turns 1-{fork['at_turn']} are the "
            f"parent's (`trace {fork['parent_id']}`); this run starts at turn {fork['at_turn'] + 1}"
        )
    if failure := data["failure"]:
        where = f"{failure['step']}" + (f" in turn {failure['turn']}" if failure["turn"] else "")
        lines.append(
            f"FAILED at {where}: {failure['error_type']} after {failure['attempts']} attempt(s): "
            + _clip(failure["message"])
        )
        lines += [
            f"  last prompt [{m.get('role')}]: {_clip(m.get('content'))}" for m in failure["last_prompt"][-2:]
        ]
    for t in data["turns"]:
        tokens = f"{t['prompt_tokens']}+{t['completion_tokens']} tokens"
        lines.append(
            f"turn {t['turn']}: {tokens}, ${t['cost_usd']:.4f}, {_ms(t['latency_ms'], t['attempts'])}"
        )
        lines += [f"  thought: {_clip(t['thought'])}"] if t["thought"] else []
        lines += [f"  error: {_clip(t['error'])}"] if t["error"] else []
        for c in t["calls"]:
            outcome = c["outcome"] + (f" {c['error_type']}" if c["error_type"] else "")
            args = json.dumps(c["args"], ensure_ascii=False)
            timing = _ms(c["latency_ms"], c["attempts"]) if c["attempts"] else "no activity"
            lines.append(f"  action {c['call_id']} {c['tool']}({args}) → {outcome}, {timing}")
            lines += [f"    observation: {_clip(c['observation'])}"] if c["observation"] else []
    for step in data.get("plan") or []:
        after = f" after {', '.join(step['depends_on'])}" if step.get("depends_on") else ""
        why = f" ({step['error_type']})" if step.get("error_type") else ""
        lines.append(f"plan {step['round']}.{step['id']} {step['tool']}{after}: {step['state']}{why}")
    lines += [
        f"signal {s['name']} at {s['at']}: {json.dumps(s['payload'], default=str)}" for s in data["signals"]
    ]
    lines += [f"answer: {_clip(data['answer'], 600)}"] if data["answer"] is not None else []
    totals = data["totals"]
    lines.append(
        f"totals: {totals['turns']} turns, {totals['prompt_tokens']}+{totals['completion_tokens']} tokens, "
        f"${totals['cost_usd']:.6f}, {totals['tool_calls']} tool calls"
    )
    return lines
