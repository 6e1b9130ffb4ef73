"""The HTTP API end to end on a dev server: start (idempotent), read, decide through `decide`,
follow the SSE stream (resuming from Last-Event-ID), list approvals from visibility, typed errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from activities.llm.scripted import ScriptedToolCall
from core.guardrails import ContextSettings
from core.models import AgentRequest, RunState
from tests.api_stack import ApiStack, api_stack, sse_frames
from tests.test_agent_workflow import REFUND, answer, call, calls

LOOKUP = "[api-lookup] what is pay_ABC123?"
REFUND_TASK = "[api-refund] pay_ABC124 was a duplicate, refund it"
STREAMED = "[api-stream] look up pay_ABC123 twice"
SHARED = "[api-shared] pay_ABC128 was a duplicate, refund it"


def refund(transaction_id: str, amount: str, currency: str) -> ScriptedToolCall:
    return call(
        "initiate_refund", transaction_id=transaction_id, amount=amount, currency=currency, reason="r"
    )


ESCALATING = "[api-escalate] I want to speak to a manager about pay_ABC123"
CANCELLED = "[api-cancel] refund pay_ABC123, then think again"
LONG = "[api-long] look up five payments, one turn each"
SCRIPTS = {
    LONG: [
        *(calls(call("get_transaction", transaction_id=f"pay_ABC12{n}")) for n in range(3, 8)),
        answer("Five payments looked up."),
    ],
    ESCALATING: [answer("unused: the customer's words escalate before the model runs")],
    CANCELLED: [calls(refund("pay_ABC123", "49.99", "USD")), answer("unused")],
    LOOKUP: [calls(call("get_transaction", transaction_id="pay_ABC123")), answer("A 49.99 USD charge.")],
    REFUND_TASK: [calls(REFUND), answer("Refunded 49.99 USD (re_x).")],
    SHARED: [
        calls(refund("pay_ABC128", "49.99", "USD")),
        answer("Refunded 49.99 USD."),
    ],
    STREAMED: [
        calls(call("get_transaction", transaction_id="pay_ABC123")),
        calls(call("get_transaction", transaction_id="pay_ABC124")),
        answer("Both are 49.99 USD."),
    ],
}


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ApiStack]:
    async with api_stack(tmp_path_factory.mktemp("api"), SCRIPTS) as running:
        yield running


async def test_a_repeated_idempotency_key_returns_the_same_run(stack: ApiStack) -> None:
    alice = stack.bearer("alice")
    body = {"task": LOOKUP, "user": "u1", "agent": "merchant_support"}
    first = await stack.http.post("/v1/runs", json=body, headers={**alice, "Idempotency-Key": "req-42"})
    again = await stack.http.post("/v1/runs", json=body, headers={**alice, "Idempotency-Key": "req-42"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["run_id"] == again.json()["run_id"] == "req-42"
    assert (first.json()["created"], again.json()["created"]) == (True, False)
    result = await stack.result("req-42", alice)
    assert (result["status"], result["answer"]) == ("completed", "A 49.99 USD charge.")
    history = await stack.runs.handle("req-42").fetch_history()
    memo = history.events[0].workflow_execution_started_event_attributes.memo.fields
    assert b"alice" in memo["started_by"].data


async def test_an_approval_is_listed_decided_by_update_and_recorded_as_the_token(stack: ApiStack) -> None:
    alice, bob = stack.bearer("alice"), stack.bearer("bob", "approver")
    run_id = await stack.start(REFUND_TASK, "u2", alice)
    item = await stack.pending(run_id, bob)
    listed: list[dict[str, object]] = []
    for _ in range(100):  # visibility is eventually consistent
        listed = (await stack.http.get("/v1/approvals", headers=bob)).json()
        if any(a["run_id"] == run_id for a in listed):
            break
        await asyncio.sleep(0.1)
    mine = next(a for a in listed if a["run_id"] == run_id)
    assert (mine["tool"], mine["args_sha256"], mine["started_by"]) == (item.tool, item.args_sha256, "alice")
    assert mine["roles_needed"] == ["approver"] and str(mine["temporal_ui"]).endswith(f"/workflows/{run_id}")
    decision = {"call_id": item.call_id, "verdict": "approve", "args_sha256": item.args_sha256}
    decided = await stack.http.post(f"/v1/runs/{run_id}/decisions", json=decision, headers=bob)
    assert decided.status_code == 200, decided.text
    assert decided.json()["by"] == "bob"
    result = await stack.result(run_id, bob)
    assert result["status"] == RunState.COMPLETED
    assert result["tool_calls"][0]["approved_by"] == "bob"
    assert [a["actor"] for a in result["audit"] if a["event"] == "approved"] == ["bob"]
    assert await stack.store.count("refunds") >= 1


async def test_the_event_stream_ends_with_the_result_and_resumes_after_last_event_id(
    stack: ApiStack,
) -> None:
    alice = stack.bearer("alice")
    run_id = await stack.start(STREAMED, "u3", alice)
    whole = await stack.http.get(f"/v1/runs/{run_id}/events", headers=alice)
    assert whole.status_code == 200 and whole.headers["content-type"].startswith("text/event-stream")
    frames = sse_frames(whole.text)
    progress, last = frames[:-1], frames[-1]
    assert [f["id"] for f in progress] == list(range(len(progress)))  # every item once, in order
    steps = [f for f in progress if f["event"] == "progress"]
    assert {f["event"] for f in progress} == {"progress", "text"} and len(steps) >= 8
    # The model's text, before the step that says the model answered: "Both are 49.99 USD."
    assert [f["data"]["text"] for f in progress if f["event"] == "text"] == ["Both are 49.99 USD."]
    assert (last["event"], last["data"]["status"], last["id"]) == ("result", "completed", None)
    assert progress[-1]["data"]["kind"] == "ended"
    cut = 4
    headers = {**alice, "Last-Event-ID": str(cut)}
    resumed = sse_frames((await stack.http.get(f"/v1/runs/{run_id}/events", headers=headers)).text)
    assert [f["id"] for f in resumed[:-1]] == [f["id"] for f in progress[cut + 1 :]]
    assert [f["data"] for f in resumed[:-1]] == [f["data"] for f in progress[cut + 1 :]]
    assert resumed[-1]["event"] == "result"


async def test_subscribers_of_one_run_share_one_poller_and_each_gets_every_event_once(
    stack: ApiStack,
) -> None:
    bob = stack.bearer("bob", "approver")
    run_id = await stack.start(SHARED, "u4", stack.bearer("alice"))
    item = await stack.pending(run_id, bob)
    url = f"/v1/runs/{run_id}/events"
    followers = [
        asyncio.ensure_future(stack.http.get(url, headers={**bob, **({"Last-Event-ID": "1"} if i else {})}))
        for i in range(3)
    ]
    for _ in range(100):
        if run_id in stack.service.feeds._feeds and stack.service.feeds._feeds[run_id].followers == 3:
            break
        await asyncio.sleep(0.05)
    assert stack.service.feeds._feeds[run_id].followers == 3  # one feed for the three of them
    decision = {"call_id": item.call_id, "verdict": "approve", "args_sha256": item.args_sha256}
    assert (await stack.http.post(f"/v1/runs/{run_id}/decisions", json=decision, headers=bob)).is_success
    streams = [sse_frames(response.text) for response in await asyncio.gather(*followers)]
    whole = [f["id"] for f in streams[0][:-1]]
    assert whole == list(range(len(whole))) and streams[0][-1]["event"] == "result"
    for resumed in streams[1:]:
        assert [f["id"] for f in resumed[:-1]] == whole[2:] and resumed[-1]["event"] == "result"
    assert run_id not in stack.service.feeds._feeds  # the feed ends with its last follower


async def test_a_person_replies_to_an_escalation_and_the_starter_cancels_a_run(stack: ApiStack) -> None:
    alice, erin, stranger = stack.bearer("alice"), stack.bearer("erin", "approver"), stack.bearer("sam")
    escalated = await stack.start(ESCALATING, "u5", alice)
    for _ in range(200):
        if (await stack.http.get(f"/v1/runs/{escalated}", headers=erin)).json()["state"] == "escalated":
            break
        await asyncio.sleep(0.05)
    reply = {"text": "Called the merchant; nothing to refund."}
    refused = await stack.http.post(f"/v1/runs/{escalated}/reply", json=reply, headers=stranger)
    assert (refused.status_code, refused.json()["type"]) == (403, "PermissionDeniedError")
    replied = await stack.http.post(f"/v1/runs/{escalated}/reply", json=reply, headers=erin)
    assert replied.status_code == 200, replied.text
    answered = await stack.result(escalated, erin)
    assert (answered["status"], answered["answered_by"], answered["answer"]) == (
        "completed",
        "erin",
        reply["text"],
    )

    waiting = await stack.start(CANCELLED, "u6", alice)
    await stack.pending(waiting, erin)
    cancel = {"reason": "the merchant withdrew the request"}
    refused = await stack.http.post(f"/v1/runs/{waiting}/cancel", json=cancel, headers=stranger)
    assert (refused.status_code, refused.json()["type"]) == (403, "PermissionDeniedError")
    assert (
        await stack.http.post(f"/v1/runs/{waiting}/cancel", json=cancel, headers=alice)
    ).status_code == 200
    cancelled = await stack.result(waiting, alice)
    assert cancelled["status"] == "cancelled"
    assert [(a["event"], a["actor"]) for a in cancelled["audit"] if a["event"] == "cancelled"] == [
        ("cancelled", "alice")
    ]
    ended = await stack.http.post(f"/v1/runs/{waiting}/cancel", json=cancel, headers=alice)
    assert (ended.status_code, ended.json()["type"]) == (409, "InvalidInputError")


async def test_the_stream_goes_on_across_continue_as_new_without_a_gap_or_a_repeat(stack: ApiStack) -> None:
    alice = stack.bearer("alice")
    context = ContextSettings(turns_per_run=2)
    request = AgentRequest(task=LONG, agent="merchant_support", user_id="u7", context=context)
    handle = await stack.runs.start(request, memo={"started_by": "alice"})
    url = f"/v1/runs/{handle.id}/events"
    frames = sse_frames((await stack.http.get(url, headers=alice)).text)
    ids = [f["id"] for f in frames[:-1]]
    assert ids == list(range(len(ids))) and frames[-1]["event"] == "result"
    assert frames[-1]["data"]["runs"] >= 2  # two turns a run: it continued as new
    assert [f["data"]["kind"] for f in frames[:-1]].count("ended") == 1
    resumed = sse_frames((await stack.http.get(url, headers={**alice, "Last-Event-ID": "7"})).text)
    assert [f["id"] for f in resumed[:-1]] == ids[8:]


async def test_errors_are_typed_json_and_openapi_is_served(stack: ApiStack) -> None:
    alice = stack.bearer("alice")
    docs = await stack.http.get("/docs")
    schema = (await stack.http.get("/openapi.json")).json()
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert {"/v1/runs", "/v1/runs/{run_id}/decisions", "/v1/approvals"} <= set(schema["paths"])
    nowhere = await stack.http.get("/v1/nowhere", headers=alice)
    blank = await stack.http.post("/v1/runs", json={"task": ""}, headers=alice)
    bad_key = await stack.http.post(
        "/v1/runs", json={"task": "x"}, headers={**alice, "Idempotency-Key": "has space"}
    )
    unknown_agent = await stack.http.post("/v1/runs", json={"task": "x", "agent": "nobody"}, headers=alice)
    for response, status, kind in (
        (nowhere, 404, "NotFoundError"),
        (blank, 400, "InvalidInputError"),
        (bad_key, 400, "InvalidInputError"),
        (unknown_agent, 404, "NotFoundError"),
    ):
        assert (response.status_code, response.json()["type"]) == (status, kind), response.text
        assert set(response.json()) == {"type", "message"} and "Traceback" not in response.text
