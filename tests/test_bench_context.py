"""The context benchmark: its documents, its reader, its options, and one tiny run on a dev server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.context_model import ReaderPolicy, last_turn, task_for
from bench.context_tools import DOCUMENT_CHARS, document

ROOT = Path(__file__).resolve().parent.parent
TOOLS = {"fetch_page", "fetch_article"}


def bench(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.context", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_documents_are_deterministic_and_about_5_kb() -> None:
    first = document("handbook page", 7)
    assert first == document("handbook page", 7)
    assert first.text != document("handbook page", 8).text
    assert first.chars == len(first.text) == DOCUMENT_CHARS


def test_reader_alternates_tools_with_new_arguments_then_answers() -> None:
    policy = ReaderPolicy()
    task = {"role": "user", "content": task_for(2)}
    first = policy.reply([task], TOOLS)
    assert [(c.name, c.arguments) for c in first.tool_calls] == [("fetch_page", {"page": 1})]
    done_one = [task, {"role": "tool", "tool_call_id": "t1-1", "content": "{}"}]
    second = policy.reply(done_one, TOOLS)
    assert [(c.name, c.arguments) for c in second.tool_calls] == [("fetch_article", {"article": 2})]
    done_two = [*done_one, {"role": "tool", "tool_call_id": "t2-1", "content": "{}"}]
    assert last_turn(done_two) == 2
    final = policy.reply(done_two, TOOLS)
    assert not final.tool_calls and "Read 2 documents" in final.content


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--turns", "0"], "must be > 0"), (["--turns", "10,-5"], "must be > 0"), (["--naive-cap", "0"], "> 0")],
)
def test_bad_options_exit_2_with_a_message(args: list[str], message: str) -> None:
    done = bench(*args, timeout=60)
    assert done.returncode == 2
    assert message in done.stderr


def test_tiny_bench_on_a_dev_server(tmp_path: Path) -> None:
    out = tmp_path / "context.json"
    done = bench("--tiny", "--out", str(out))
    # 1: an acceptance point failed (reported, not a crash); the figures are judged by `make bench-context`.
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert "Prompt tokens at turn 15" in done.stdout and "Breakdown of ours" in done.stdout
    document_ = json.loads(out.read_text())
    cases = {(c["variant"], c["turns"]): c for c in document_["cases"]}
    assert set(cases) == {("ours", 4), ("ours", 16), ("naive", 4), ("naive", 16)}
    for case in cases.values():
        assert case["status"] == "completed"
        assert case["history"]["total_bytes"] > 0 and case["bytes_per_turn"] > 0
        assert len(case["prompt_tokens"]) == case["turns"] + 1  # N reads and the answer
        assert case["history"]["max_activity_payload_bytes"] <= 256 * 1024
    turn15 = document_["turn_15"]
    assert 0 < turn15["ours"] < turn15["naive"]
    assert {p["name"] for p in document_["acceptance"]} and all("ok" in p for p in document_["acceptance"])
