"""Conversations over HTTP on a dev server (the production worker, strict): a follow-up acts on the
first message's payment, its approval is listed in GET /v1/approvals and decided by another person;
a message over SSE ends with its answer; bad input gets typed 4xx; another identity is refused."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from activities.llm.openai_provider import OpenAIProvider
from activities.llm.scripted import ScriptBook, ScriptedTransport
from cli import humans
from core.models import PendingApproval
from tests.api_stack import ApiStack, api_stack, sse_frames
from tests.conftest import DEMO, SCRIPTED_URL

SSE = {"Accept": "text/event-stream"}


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ApiStack]:
    # The agent's own stand-in model, which reads a conversation's memory as a model would.
    transport = ScriptedTransport(ScriptBook({}, fallback=DEMO.stand_in))
    provider = OpenAIProvider(SCRIPTED_URL, default_model="scripted", transport=transport)
    async with api_stack(tmp_path_factory.mktemp("threads"), {}, provider) as running:
        yield running


def thread() -> str:
    return f"thread-{uuid.uuid4().hex[:10]}"


async def post(stack: ApiStack, thread_id: str, who: dict[str, str], text: str, **body: Any) -> Any:
    payload = {"text": text, "agent": DEMO.name, **body}
    return await stack.http.post(f"/v1/threads/{thread_id}/messages", json=payload, headers=who)


async def pending(stack: ApiStack, thread_id: str, who: dict[str, str]) -> PendingApproval:
    for _ in range(400):
        view = (await stack.http.get(f"/v1/threads/{thread_id}", headers=who)).json()
        if view["status"]["pending"]:
            return PendingApproval.model_validate(view["status"]["pending"][0])
        await asyncio.sleep(0.05)
    raise AssertionError(f"no approval became pending in {thread_id}")


async def listed(stack: ApiStack, thread_id: str, who: dict[str, str]) -> dict[str, Any]:
    for _ in range(100):  # visibility is eventually consistent
        items = (await stack.http.get("/v1/approvals", headers=who)).json()
        mine = [a for a in items if a["run_id"] == thread_id]
        if mine:
            return dict(mine[0])
        await asyncio.sleep(0.1)
    raise AssertionError(f"{thread_id}'s approval is not in GET /v1/approvals")


def kind(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["type"]


async def test_a_follow_up_acts_on_the_first_message_and_another_person_approves_it(stack: ApiStack) -> None:
    alice, bob = stack.bearer("alice"), stack.bearer("bob", "approver")
    thread_id = thread()
    first = await post(stack, thread_id, alice, "Please look up payment pay_ABC124.")
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "answered" and "pay_ABC124" in first.json()["answer"]
    queued = await post(stack, thread_id, alice, "Refund that one, please.", wait=False)
    assert queued.status_code == 202 and queued.json()["status"] == "accepted"
    item = await pending(stack, thread_id, alice)
    assert (item.tool, item.args["transaction_id"]) == ("initiate_refund", "pay_ABC124")
    shown = await listed(stack, thread_id, bob)
    assert (shown["kind"], shown["args_sha256"], shown["started_by"]) == ("thread", item.args_sha256, "alice")
    row = next(r for r in await humans.pending(stack.client) if r["workflow_id"] == thread_id)
    assert row["thread"] and [a["call_id"] for a in row["approvals"]] == [item.call_id]  # `pending`
    decision = {"call_id": item.call_id, "verdict": "approve", "args_sha256": item.args_sha256}
    own = await stack.http.post(shown["decisions"], json=decision, headers=stack.bearer("alice", "approver"))
    assert kind(own) == (403, "PermissionDeniedError")  # four eyes: the thread's starter and user
    wrong = {**decision, "args_sha256": "0" * 64}
    assert kind(await stack.http.post(shown["decisions"], json=wrong, headers=bob)) == (
        409,
        "InvalidInputError",
    )
    decided = await stack.http.post(shown["decisions"], json=decision, headers=bob)
    assert decided.status_code == 200 and decided.json()["by"] == "bob", decided.text
    answer = await stack.http.get(
        f"/v1/threads/{thread_id}/messages/{queued.json()['message_id']}", headers=alice
    )
    assert answer.status_code == 200 and "Refund re_" in answer.json()["answer"], answer.text
    assert "pay_ABC124" in answer.json()["answer"]
    again = await stack.http.post(shown["decisions"], json=decision, headers=bob)
    assert kind(again) == (409, "InvalidInputError")  # decided already
    runs_route = await stack.http.post(f"/v1/runs/{thread_id}/decisions", json=decision, headers=bob)
    assert kind(runs_route) == (404, "NotFoundError") and "/v1/threads/" in runs_route.json()["message"]


async def test_a_message_over_sse_streams_its_progress_and_ends_with_the_answer(stack: ApiStack) -> None:
    alice = stack.bearer("alice")
    thread_id = thread()
    await post(stack, thread_id, alice, "Please look up payment pay_ABC125.")
    streamed = await stack.http.post(
        f"/v1/threads/{thread_id}/messages",
        json={"text": "And the account of MID001?"},
        headers={**alice, **SSE},
    )
    assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
    frames = sse_frames(streamed.text)
    events = [f["event"] for f in frames]
    assert events[0] == "accepted" and events[-1] == "answer" and set(events[1:-1]) == {"progress"}
    ids = [f["id"] for f in frames[1:-1]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) and ids, events
    labels = [f["data"]["label"] for f in frames[1:-1] if f["data"]["kind"] == "call.end"]
    assert labels == ["get_merchant_account"]  # this message's calls: the first's are not replayed
    last = frames[-1]["data"]
    assert last["message_id"] == frames[0]["data"]["message_id"] and "MID001" in last["answer"]


async def test_each_bad_input_gets_a_typed_4xx(stack: ApiStack) -> None:
    alice, thread_id = stack.bearer("alice"), thread()
    assert kind(await post(stack, "-starts-with-a-dash", alice, "hi")) == (400, "ThreadIdError")
    assert kind(await post(stack, thread_id, alice, "  ")) == (400, "EmptyMessageError")
    # Refused before an event stream opens: typed JSON, not a broken stream.
    assert kind(await post(stack, thread_id, {**alice, **SSE}, "")) == (400, "EmptyMessageError")
    too_long = "x" * (DEMO.conversation.max_message_chars + 1)
    assert kind(await post(stack, thread_id, alice, too_long)) == (413, "MessageTooLargeError")
    assert kind(await post(stack, thread_id, alice, "hi", agent="no_such_agent")) == (404, "NotFoundError")
    assert kind(await post(stack, thread_id, alice, "hi", approver="me")) == (400, "InvalidInputError")
    never_started = await stack.http.get(f"/v1/threads/{thread_id}", headers=alice)
    assert kind(never_started) == (404, "NotFoundError")  # no refused message started a thread
    run_id = await stack.start(
        "[threads] what is pay_ABC123?", "u1", alice, key=f"run-{uuid.uuid4().hex[:8]}"
    )
    assert kind(await post(stack, run_id, alice, "hi")) == (409, "ThreadIdTakenError")
    unauthenticated = await stack.http.post(f"/v1/threads/{thread_id}/messages", json={"text": "hi"})
    assert kind(unauthenticated) == (401, "AuthError")
    assert (await post(stack, thread_id, alice, "Look up pay_ABC126.")).status_code == 200
    bob = stack.bearer("bob", "approver")
    nothing = {"call_id": "t9-1", "verdict": "approve", "args_sha256": "0" * 64}
    not_pending = await stack.http.post(f"/v1/threads/{thread_id}/decisions", json=nothing, headers=bob)
    assert kind(not_pending) == (409, "InvalidInputError")
    unknown = await stack.http.get(f"/v1/threads/{thread_id}/messages/m99", headers=alice)
    assert kind(unknown) == (404, "NotFoundError")
    closed = await stack.http.post(f"/v1/threads/{thread_id}/close", headers=alice)
    assert closed.status_code == 200 and closed.json()["by"] == "alice"
    for _ in range(200):
        view = (await stack.http.get(f"/v1/threads/{thread_id}", headers=alice)).json()
        if not view["open"]:
            break
        await asyncio.sleep(0.05)
    assert view["result"]["close_reason"].startswith("closed by alice") and view["result"]["handled"] == 1
    assert kind(await stack.http.post(f"/v1/threads/{thread_id}/close", headers=alice)) == (
        409,
        "ConversationClosedError",
    )


async def test_another_identitys_token_is_refused_unless_a_supervisor(stack: ApiStack) -> None:
    alice, mallory = stack.bearer("alice"), stack.bearer("mallory", "approver")
    thread_id = thread()
    assert (await post(stack, thread_id, alice, "Look up pay_ABC127.")).status_code == 200
    assert kind(await stack.http.get(f"/v1/threads/{thread_id}", headers=mallory)) == (
        403,
        "PermissionDeniedError",
    )
    assert kind(await post(stack, thread_id, mallory, "Refund it.")) == (403, "PermissionDeniedError")
    refused = await stack.http.post(f"/v1/threads/{thread_id}/close", headers=mallory)
    assert kind(refused) == (403, "PermissionDeniedError")
    sue = stack.bearer("sue", "supervisor")
    view = await stack.http.get(f"/v1/threads/{thread_id}", headers=sue)
    assert view.status_code == 200 and view.json()["started_by"] == "alice"
    assert view.json()["status"]["handled"] == 1 and view.json()["open"]
