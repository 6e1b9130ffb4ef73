"""The conversation bench: its figures from synthetic marks (each acceptance point can fail), and a
short real run on the time-skipping server through the bench's own code."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from bench.conversation import measure
from bench.conversation_report import Window, acceptance, windows

BURST_OK = {"answered_once": True, "runs": 2}


def test_windows_are_bytes_per_message_from_the_start_message_on() -> None:
    marks = [1000 * n for n in range(1, 31)]
    spans = windows(marks, list(range(30)), start=10, size=10)
    assert [(w.first, w.last, w.bytes_per_message) for w in spans] == [(10, 19, 1000.0), (20, 29, 1000.0)]
    assert spans[-1].prompt_tokens_max == 28


def test_each_acceptance_point_fails_when_its_figure_is_off() -> None:
    steady = [Window(10, 19, 1000.0, 500), Window(20, 29, 1100.0, 500)]
    ok = acceptance(steady, [50_000, 10_000], 49_000, BURST_OK, [500] * 30)
    assert all(ok.values()), ok
    drifting = [*steady, Window(30, 39, 1300.0, 500)]
    assert not acceptance(drifting, [50_000, 10], 49_000, BURST_OK, [500] * 30)[
        "bytes_per_message_within_15pct"
    ]
    late = acceptance(steady, [90_000, 10], 49_000, BURST_OK, [500] * 30)
    assert not late["continued_as_new_at_threshold"]
    growing = acceptance(steady, [50_000, 10], 49_000, BURST_OK, [500] * 60 + [900] * 20)
    assert not growing["prompt_tokens_bounded"]
    lost = acceptance(steady, [50_000, 10], 49_000, {"answered_once": False, "runs": 1}, [500] * 30)
    assert not lost["burst_each_answered_once"] and not lost["burst_queued_across_continue_as_new"]


async def test_a_short_bench_run_holds_every_point(env: WorkflowEnvironment) -> None:
    figures = await measure(env.client, messages=40, burst_size=8, threshold=30_000, window=10)
    assert figures["long"]["handled"] == 40 and len(figures["long"]["sizes"]) >= 2
    assert figures["acceptance"] == dict.fromkeys(figures["acceptance"], True), figures["lines"]
