"""Every bad input to the API gets a typed 4xx, and the run is changed by nothing: its history, its
audit trail and its pending call are as before (the API's own audit table records the refusal)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import pytest

from activities.llm.scripted import ScriptedToolCall
from core.models import AgentLimits, AgentRequest, PendingApproval
from tests.api_stack import ApiStack, api_stack
from tests.test_agent_workflow import REFUND, answer, call, calls

SMALL = "[sec-small] refund the duplicate pay_ABC124"
LARGE = "[sec-large] refund 120.00 of pay_ABC125"
EXPIRING = "[sec-expiring] refund pay_DEF201 soon"
BIG_REFUND = call(
    "initiate_refund", transaction_id="pay_ABC125", amount="120.00", currency="USD", reason="overcharge"
)


def refund(transaction_id: str, amount: str, currency: str) -> ScriptedToolCall:
    return call(
        "initiate_refund", transaction_id=transaction_id, amount=amount, currency=currency, reason="r"
    )


SCRIPTS = {
    SMALL: [calls(REFUND), answer("Refunded 49.99 USD.")],
    LARGE: [calls(BIG_REFUND), answer("Refunded 120.00 USD.")],
    EXPIRING: [
        calls(refund("pay_DEF201", "34.50", "EUR")),
        answer("Nobody approved in time."),
    ],
}


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ApiStack]:
    async with api_stack(tmp_path_factory.mktemp("api-sec"), SCRIPTS) as running:
        yield running


async def snapshot(stack: ApiStack, run_id: str) -> tuple[Any, ...]:
    status = await stack.runs.status(stack.runs.handle(run_id))
    return await stack.history_events(run_id), status.audit, status.pending


JSON = {"Content-Type": "application/json"}


def decision(item: PendingApproval, **overrides: Any) -> dict[str, Any]:
    return {"call_id": item.call_id, "verdict": "approve", "args_sha256": item.args_sha256, **overrides}


def assert_typed(response: Any, status: int, kind: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["type"] == kind and response.json()["message"], response.text
    assert "Traceback" not in response.text


async def test_each_bad_input_gets_a_typed_4xx_and_changes_nothing(stack: ApiStack) -> None:
    carol = stack.bearer("carol", "approver")  # starts the run: may not approve it
    dave = stack.bearer("dave", "approver")  # the user it acts for: neither
    erin, nobody = stack.bearer("erin", "approver"), stack.bearer("nora")
    run_id = await stack.start(SMALL, "dave", carol)
    item = await stack.pending(run_id, erin)
    before = await snapshot(stack, run_id)
    url = f"/v1/runs/{run_id}/decisions"
    revoked = stack.bearer("rex", "approver")
    assert stack.tokens.revoke(revoked["Authorization"].removeprefix("Bearer "))

    async def chunks() -> Any:
        for _ in range(17):
            yield b"x" * 65536

    cases: list[tuple[str, Any, int, str]] = [
        ("malformed JSON", stack.http.post(url, content=b'{"call_id": ', headers={**erin, **JSON}), 400,
         "InvalidInputError"),
        ("body over 1 MB", stack.http.post(url, content=b" " * (1024 * 1024 + 1), headers=erin), 413,
         "PayloadTooLargeError"),
        ("chunked body over 1 MB", stack.http.post(url, content=chunks(), headers=erin), 413,
         "PayloadTooLargeError"),
        ("unknown run", stack.http.post("/v1/runs/no-such-run/decisions", json=decision(item), headers=erin),
         404, "NotFoundError"),
        ("unknown call", stack.http.post(url, json=decision(item, call_id="t9-9"), headers=erin), 409,
         "InvalidInputError"),
        ("wrong hash", stack.http.post(url, json=decision(item, args_sha256="0" * 64), headers=erin), 409,
         "InvalidInputError"),
        ("missing token", stack.http.post(url, json=decision(item)), 401, "AuthError"),
        ("malformed token", stack.http.post(url, json=decision(item), headers={"Authorization": "Bearer x"}),
         401, "AuthError"),
        ("unknown token", stack.http.post(url, json=decision(item),
         headers={"Authorization": "Bearer agt_0123456789abcdef." + "A" * 43}), 401, "AuthError"),
        ("revoked token", stack.http.post(url, json=decision(item), headers=revoked), 401, "AuthError"),
        ("no approver role", stack.http.post(url, json=decision(item), headers=nobody), 403,
         "PermissionDeniedError"),
        ("the starter approves", stack.http.post(url, json=decision(item), headers=carol), 403,
         "PermissionDeniedError"),
        ("the run's user approves", stack.http.post(url, json=decision(item), headers=dave), 403,
         "PermissionDeniedError"),
        ("a body naming the approver", stack.http.post(url, json=decision(item, approver="mallory"),
         headers=erin), 400, "InvalidInputError"),
        ("a denial without reason", stack.http.post(url, json=decision(item, verdict="deny"), headers=erin),
         400, "InvalidInputError"),
        ("bogus Last-Event-ID", stack.http.get(f"/v1/runs/{run_id}/events",
         headers={**erin, "Last-Event-ID": "abc"}), 400, "InvalidInputError"),
        ("Last-Event-ID past the run", stack.http.get(f"/v1/runs/{run_id}/events",
         headers={**erin, "Last-Event-ID": "999999"}), 400, "InvalidInputError"),
        ("reply to a run not escalated", stack.http.post(f"/v1/runs/{run_id}/reply", json={"text": "hi"},
         headers=erin), 409, "InvalidInputError"),
    ]  # fmt: skip
    for what, request, status, kind in cases:
        response = await request
        assert response.status_code == status, (what, response.text)
        assert_typed(response, status, kind)
    assert await snapshot(stack, run_id) == before  # nothing reached the run
    refused = [row for row in stack.tokens.audit(run_id) if row.status >= 400]
    assert {row.identity for row in refused} >= {"erin", "nora", "carol", "dave"}
    accepted = await stack.http.post(url, json=decision(item, reason="duplicate confirmed"), headers=erin)
    assert accepted.status_code == 200, accepted.text
    second = await stack.http.post(url, json=decision(item), headers=erin)
    assert_typed(second, 409, "InvalidInputError")
    result = await stack.result(run_id, erin)
    assert [a.get("actor") for a in result["audit"] if a["event"] == "approved"] == ["erin"]


async def test_a_large_refund_needs_a_supervisor_as_its_agent_declares(stack: ApiStack) -> None:
    alice = stack.bearer("alice")
    bob, sue = stack.bearer("bob", "approver"), stack.bearer("sue", "approver", "supervisor")
    run_id = await stack.start(LARGE, "u9", alice)
    item = await stack.pending(run_id, bob)
    listed = (await stack.http.get(f"/v1/runs/{run_id}", headers=bob)).json()["pending"][0]
    assert listed["args"]["amount"] == "120.00"
    before = await snapshot(stack, run_id)
    url = f"/v1/runs/{run_id}/decisions"
    assert_typed(await stack.http.post(url, json=decision(item), headers=bob), 403, "PermissionDeniedError")
    assert await snapshot(stack, run_id) == before
    assert (await stack.http.post(url, json=decision(item), headers=sue)).status_code == 200
    result = await stack.result(run_id, sue)
    assert result["tool_calls"][0]["approved_by"] == "sue"


async def test_an_expired_approval_is_gone(stack: ApiStack) -> None:
    erin = stack.bearer("erin2", "approver")
    limits = AgentLimits(approval_timeout_s=1.0)
    request = AgentRequest(task=EXPIRING, agent="merchant_support", user_id="u10", limits=limits)
    handle = await stack.runs.start(request, memo={"started_by": "alice"})
    item = await stack.pending(handle.id, erin)
    await asyncio.sleep(1.5)
    url = f"/v1/runs/{handle.id}/decisions"
    assert_typed(await stack.http.post(url, json=decision(item), headers=erin), 410, "InvalidInputError")
    # The run goes on (an approval that timed out escalates to a person); the call stays expired.
    for _ in range(200):
        if (await stack.http.get(f"/v1/runs/{handle.id}", headers=erin)).json().get("state") == "escalated":
            break
        await asyncio.sleep(0.05)
    before = await snapshot(stack, handle.id)
    assert_typed(await stack.http.post(url, json=decision(item), headers=erin), 410, "InvalidInputError")
    assert await snapshot(stack, handle.id) == before
    trail = [(a.event, a.call_id) for a in before[1]]
    assert ("timeout", item.call_id) in trail and ("approved", item.call_id) not in trail


def test_tokens_are_stored_hashed(stack: ApiStack) -> None:
    token_id, token = stack.tokens.mint("hank", ["approver"])
    secret = token.split(".", 1)[1]
    with sqlite3.connect(stack.tokens.path) as db:
        dumped = "\n".join(db.iterdump())
    assert token_id in dumped and secret not in dumped
    assert stack.tokens.identify(token).roles == frozenset({"approver"})
