"""Live progress on the run's workflow stream, end to end through the HTTP API on a dev server, with a
scripted model that streams its reply a word at a time: every SSE item once and in order, across a
reconnect with Last-Event-ID, a retried model call (its first attempt broke off mid-reply) and a
continue-as-new; and what `starter.py run` prints of the reply text."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio import workflow

from activities.llm.scripted import ScriptedReply
from cli.live_text import LiveConsole, show_text
from core.guardrails import ContextSettings
from core.live import LiveText, TextPiece
from core.models import AgentRequest
from tests.api_stack import ApiStack, api_stack, sse_frames
from tests.test_agent_workflow import answer, call, calls
from workflows import live

RETRIED = "[live-retry] is pay_ABC123 a duplicate?"
RETRIED_ANSWER = "Yes: pay_ABC124 repeats pay_ABC123 and was refunded already, so nothing is left to do."
PRINTED = "[live-cli] is pay_ABC123 a duplicate?"
BEFORE = "[live-before] what is pay_ABC123?"
LONG = "[live-long] look up four payments, one turn each"
LONG_ANSWER = "Four payments looked up, all of them settled."
SCRIPTS = {
    RETRIED: [
        calls(call("get_transaction", transaction_id="pay_ABC123")),
        ScriptedReply(content=RETRIED_ANSWER, cut_first=1),  # attempt 1 breaks off after half the words
    ],
    PRINTED: [ScriptedReply(content=RETRIED_ANSWER, cut_first=1)],  # the attempt counts are per task
    BEFORE: [calls(call("get_transaction", transaction_id="pay_ABC123")), answer("A 49.99 USD charge.")],
    LONG: [
        *(calls(call("get_transaction", transaction_id=f"pay_ABC12{n}")) for n in range(3, 7)),
        answer(LONG_ANSWER),
    ],
}


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ApiStack]:
    async with api_stack(tmp_path_factory.mktemp("live"), SCRIPTS, streams=True) as running:
        yield running


def shown(frames: list[dict[str, Any]]) -> tuple[LiveText, list[TextPiece]]:
    """What a reader shows of the text frames: the pieces it took in, by the rule of core/live.py."""
    reader, taken = LiveText(), []
    for f in frames:
        if f["event"] == "text":
            piece = TextPiece.model_validate(f["data"])
            if reader.accept(piece):
                taken.append(piece)
    return reader, taken


async def test_a_retried_model_call_shows_its_text_once_and_the_stream_resumes_exactly(
    stack: ApiStack,
) -> None:
    alice = stack.bearer("alice")
    run_id = await stack.start(RETRIED, "u1", alice)
    url = f"/v1/runs/{run_id}/events"
    frames = sse_frames((await stack.http.get(url, headers=alice)).text)
    items, last = frames[:-1], frames[-1]
    assert [f["id"] for f in items] == list(range(len(items)))  # every item once, in order
    assert (last["event"], last["data"]["status"], last["data"]["answer"]) == (
        "result",
        "completed",
        RETRIED_ANSWER,
    )
    pieces = [TextPiece.model_validate(f["data"]) for f in items if f["event"] == "text"]
    first = [p for p in pieces if p.attempt == 1]
    restart = [p for p in pieces if p.restart]
    # The broken attempt did stream part of the reply, and the retry said it starts again.
    assert first and "".join(p.text for p in first) != RETRIED_ANSWER
    assert len(restart) == 1 and restart[0].attempt == 2 and restart[0].call == first[0].call
    assert pieces.index(restart[0]) > pieces.index(first[-1])
    reader, taken = shown(items)
    assert reader.text(first[0].call) == RETRIED_ANSWER  # each token of the answer once
    after = taken[taken.index(restart[0]) :]
    assert "".join(p.text for p in after) == RETRIED_ANSWER and all(p.attempt == 2 for p in after)
    # A late piece of the first attempt, arriving after the restart, is dropped.
    assert not reader.accept(first[0])

    middle = next(f["id"] for f in items if f["event"] == "text" and f["data"]["attempt"] == 2)
    headers = {**alice, "Last-Event-ID": str(middle)}
    resumed = sse_frames((await stack.http.get(url, headers=headers)).text)
    assert [f["id"] for f in resumed[:-1]] == [f["id"] for f in items[middle + 1 :]]
    assert [f["data"] for f in resumed[:-1]] == [f["data"] for f in items[middle + 1 :]]
    assert resumed[-1]["event"] == "result"


async def test_the_stream_spans_continue_as_new_and_a_late_reader_resumes_in_the_next_run(
    stack: ApiStack,
) -> None:
    alice = stack.bearer("alice")
    request = AgentRequest(
        task=LONG, agent="merchant_support", user_id="u2", context=ContextSettings(turns_per_run=2)
    )
    handle = await stack.runs.start(request, memo={"started_by": "alice"})
    url = f"/v1/runs/{handle.id}/events"
    frames = sse_frames((await stack.http.get(url, headers=alice)).text)
    items = frames[:-1]
    assert frames[-1]["data"]["runs"] >= 2  # it continued as new
    assert [f["id"] for f in items] == list(range(len(items)))
    steps = [f["data"] for f in items if f["event"] == "progress"]
    assert [s["seq"] for s in steps] == list(range(len(steps)))  # no step event repeated or skipped
    assert [s["kind"] for s in steps].count("ended") == 1
    reader, _ = shown(items)
    calls_seen = {f["data"]["call"] for f in items if f["event"] == "text"}
    assert [reader.text(c) for c in calls_seen] == [LONG_ANSWER]
    # The answer was written within one batch interval: it rode on the reply, no signal carried it.
    history = await handle.fetch_history()
    signals = [e.workflow_execution_signaled_event_attributes.signal_name for e in history.events]
    assert "__temporal_workflow_stream_publish" not in signals
    # Offsets of the first run, read from the last run (the carried items keep their offsets).
    resumed = sse_frames((await stack.http.get(url, headers={**alice, "Last-Event-ID": "3"})).text)
    assert [f["id"] for f in resumed[:-1]] == [f["id"] for f in items[4:]]


async def test_the_cli_prints_the_reply_as_it_comes_and_once(stack: ApiStack) -> None:
    run_id = await stack.start(PRINTED, "u3", stack.bearer("alice"))
    written: list[str] = []
    times: list[TextPiece] = []
    await show_text(stack.client, run_id, LiveConsole(written.append), lambda piece, _at: times.append(piece))
    out = "".join(written)
    assert "attempt 2: its reply starts again" in out
    again = out.split("starts again)\n", 1)[1]
    assert again.strip() == LiveConsole.PREFIX.strip() + " " + RETRIED_ANSWER
    assert len([p for p in times if p.attempt == 2 and p.text]) == len(RETRIED_ANSWER.split())


async def test_a_run_from_before_the_patch_is_followed_through_its_progress_query(
    stack: ApiStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    patched = workflow.patched  # for a run started before it, the patch is not in its history: False
    monkeypatch.setattr(workflow, "patched", lambda patch: patch != live.PATCH and patched(patch))
    alice = stack.bearer("alice")
    run_id = await stack.start(BEFORE, "u4", alice)
    assert await stack.runs.stream_offset(stack.runs.handle(run_id)) is None  # it has no stream
    frames = sse_frames((await stack.http.get(f"/v1/runs/{run_id}/events", headers=alice)).text)
    steps = frames[:-1]
    assert {f["event"] for f in steps} == {"progress"} and frames[-1]["event"] == "result"
    assert [f["id"] for f in steps] == [f["data"]["seq"] for f in steps] == list(range(len(steps)))
    resumed = sse_frames(
        (await stack.http.get(f"/v1/runs/{run_id}/events", headers={**alice, "Last-Event-ID": "2"})).text
    )
    assert [f["id"] for f in resumed[:-1]] == list(range(3, len(steps)))
