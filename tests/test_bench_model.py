"""bench/model.py (issue 19): its parts on canned data, and one --tiny run on the real model.

A benchmark, not a timed test: the tiny run proves every section runs end to end and measures what
it says (a warmed prefix really is reused); it asserts no speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import model_baseline
from bench.model_calls import TeeTransport
from bench.model_limits import Timings, cpu_mark, others_share
from tests.conftest import DEMO

ROOT = Path(__file__).resolve().parent.parent
TIMINGS = {"cache_n": 5, "prompt_n": 100, "prompt_ms": 2000.0, "predicted_n": 30, "predicted_ms": 2500.0}


def test_timings_give_tokens_per_second() -> None:
    t = Timings.of({"timings": TIMINGS})
    assert (t.prompt_tps, t.gen_tps, t.cache_n) == (50.0, 12.0, 5)
    with pytest.raises(ValueError, match=r"no llama\.cpp timings"):
        Timings.of({"choices": []})


async def test_the_tee_finds_the_timings_of_the_last_streamed_reply() -> None:
    tee = TeeTransport()
    last = json.dumps({"choices": [], "timings": TIMINGS})
    sse = f'data: {{"choices": []}}\n\ndata: {last}\n\ndata: [DONE]\n\n'
    tee.last.extend(sse.encode())
    assert tee.timings().predicted_n == 30
    tee.last = bytearray(b'data: {"choices": []}\n\n')
    with pytest.raises(ValueError):
        tee.timings()
    await tee.aclose()


def test_others_share_is_a_fraction_of_the_machine() -> None:
    mark = cpu_mark()
    sum(i * i for i in range(200_000))  # our own CPU is not counted as others'
    assert 0.0 <= others_share(mark) <= 1.0


def test_the_baseline_is_the_agent_at_its_earlier_prompt_version() -> None:
    before = model_baseline.agent_before()
    assert before.instructions.current == "support-v2" and before.name == DEMO.name
    assert before.instructions.text() == DEMO.instructions.text("support-v2")
    assert not model_baseline.BEFORE.warmup
    assert before.critic.send_back and not DEMO.critic.send_back
    verbose = {s.name: s.parameters for s in before.schemas}
    assert all("title" in verbose[s.name] and "title" not in s.parameters for s in DEMO.schemas)
    then = {s.name: s.description for s in before.schemas}
    now = {s.name: s.description for s in DEMO.schemas}
    changed = {name for name in now if now[name] != then[name]}
    assert changed == set(model_baseline.DESCRIPTIONS_BEFORE)  # every other description as it was


@pytest.mark.local_model
@pytest.mark.skipif(os.environ.get("AGENT_SKIP_LOCAL_MODEL") == "1", reason="AGENT_SKIP_LOCAL_MODEL=1")
@pytest.mark.timeout(1500)
def test_tiny_bench_on_the_real_model(tmp_path: Path) -> None:
    out = tmp_path / "model.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.model", "--tiny", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1400,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for heading in (
        "generation tok/s",
        "first call after start",
        "make demo's case, worker ready",
        "all demo cases",
        "first-turn prefix",
    ):
        assert heading in done.stdout
    data = json.loads(out.read_text())
    before, now = data["configs"]["before"], data["configs"]["now"]
    assert before["warmed"] == [] and now["warmed"][0]["prompt_tokens"] > 100
    # The warmed prefix is what the next first turn reuses: only its task is new to llama.cpp.
    assert now["unseen"]["cache_n"] >= now["warmed"][0]["prompt_tokens"] - 8
    assert now["unseen"]["prompt_n"] < 100
    assert before["prompt_version"] == "support-v2" and now["prompt_version"] == DEMO.instructions.current
    assert len(before["cases"]) == len(now["cases"]) == 1
    assert data["speeds"]["limit"]["gen_tps"] > 0 and data["speeds"]["ours_gen_tps"] > 0
    assert set(data["tokens"]) == {"support-v2", DEMO.instructions.current}
