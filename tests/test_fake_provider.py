"""The fake hosted model: it answers like the scripted model over real HTTP, with the latency it is given."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from activities.llm.openai_provider import OpenAIProvider
from activities.llm.prices import PriceBook
from activities.llm.scripted import ScriptBook, ScriptedTransport
from agents.merchant_support.stand_in import DemoPolicy
from bench.fake_limits import Limits, WindowLimits
from bench.fake_provider import FakeProvider, Latency
from core.errors import InvalidInputError, RateLimitedError, TransientError
from core.models import ChatMessage, LlmRequest, ToolSchema
from core.pricing import ModelPrice

ROOT = Path(__file__).resolve().parent.parent
MODEL = "acme-hosted-7b"
TASK = "Merchant MID001 says pay_1001 was charged twice; refund the duplicate."
TOOLS = tuple(
    ToolSchema(name=n, description=n, parameters={"type": "object"})
    for n in ("get_transaction", "get_merchant_account", "initiate_refund")
)


def request(task: str = TASK) -> LlmRequest:
    messages = (ChatMessage(role="user", content=task),)
    return LlmRequest(workflow_id="wf", turn=1, messages=messages, tools=TOOLS, prompt_version="v1")


@asynccontextmanager
async def served(latency: Latency | None = None, limits: Limits | None = None) -> AsyncIterator[FakeProvider]:
    provider = FakeProvider(MODEL, latency or Latency(), limits)
    await provider.start()
    try:
        yield provider
    finally:
        await provider.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with served() as provider:
        yield provider


def client_of(fake: FakeProvider, model: str = MODEL, timeout: float = 10.0) -> OpenAIProvider:
    return client_at(fake.base_url, model, timeout)


def client_at(base_url: str, model: str = MODEL, timeout: float = 10.0) -> OpenAIProvider:
    # A hosted model no price list knows: the worker is given its price, as LLM_PRICE does.
    prices = PriceBook(model, explicit=ModelPrice(0.20, 0.80))
    return OpenAIProvider(base_url, default_model=model, timeout=httpx.Timeout(timeout), prices=prices)


async def test_answers_like_the_scripted_model_under_its_own_name(fake: FakeProvider) -> None:
    scripted = OpenAIProvider(
        "http://scripted.invalid/v1",
        default_model="scripted",
        transport=ScriptedTransport(ScriptBook({}, fallback=DemoPolicy())),
    )
    over_http = client_of(fake)
    expected, got = await scripted.complete(request()), await over_http.complete(request())
    await scripted.aclose()
    await over_http.aclose()
    assert got.model == MODEL and expected.model == "scripted"
    assert got.content == expected.content
    assert got.tool_calls == expected.tool_calls
    assert [c.name for c in got.tool_calls] == ["get_transaction", "get_merchant_account"]
    assert got.usage == expected.usage
    assert fake.counts.answered == 1


async def test_an_unknown_model_is_refused_like_a_hosted_provider_does(fake: FakeProvider) -> None:
    wrong = client_of(fake, model="gpt-4o-mini")
    with pytest.raises(InvalidInputError, match="HTTP 404"):
        await wrong.complete(request())
    await wrong.aclose()
    assert fake.counts.refused == 1


async def test_takes_the_latency_it_is_given() -> None:
    async with served(Latency(base_s=0.4)) as fake:
        client = client_of(fake)
        started = time.monotonic()
        await client.complete(request())
        assert 0.4 <= time.monotonic() - started < 2.0
        await client.aclose()


def test_slow_calls_are_a_seeded_share_and_the_same_on_every_attempt() -> None:
    rule = Latency(base_s=0.1, slow_share=0.3, slow_s=4.0, slow_max_s=8.0, seed=7)
    tasks = [f"task {i}" for i in range(2000)]
    times = [rule.for_call(task, 1) for task in tasks]
    slow = [t for t in times if t != 0.1]
    assert 0.26 < len(slow) / len(times) < 0.34
    assert all(4.0 <= t <= 8.0 for t in slow)
    assert times == [rule.for_call(task, 1) for task in tasks]  # a retried call waits as long again
    assert times != [Latency(0.1, 0.3, 4.0, 8.0, seed=8).for_call(task, 1) for task in tasks]


async def test_a_client_that_leaves_cancels_its_call() -> None:
    async with served(Latency(base_s=3.0)) as fake:
        impatient = client_of(fake, timeout=0.3)
        with pytest.raises(TransientError, match="timed out"):
            await impatient.complete(request())
        await impatient.aclose()
        for _ in range(50):
            if fake.counts.client_gone:
                break
            await asyncio.sleep(0.05)
        assert fake.counts.client_gone == 1 and fake.counts.answered == 0 and not fake.inflight


async def test_state_shows_the_call_in_flight() -> None:
    async with served(Latency(base_s=1.0)) as fake:
        client = client_of(fake)
        call = asyncio.ensure_future(client.complete(request()))
        await asyncio.sleep(0.3)
        async with httpx.AsyncClient() as http:
            state = (await http.get(f"http://127.0.0.1:{fake.port}/fake/state")).json()
        (inflight,) = state["inflight"]
        assert inflight["task"] == TASK and inflight["turn"] == 1 and inflight["latency_s"] == 1.0
        await call
        await client.aclose()


async def test_rate_limits_answer_429_with_retry_after() -> None:
    async with served(limits=WindowLimits(rpm=2)) as fake:
        client = client_of(fake)
        await client.complete(request())
        await client.complete(request())
        with pytest.raises(RateLimitedError) as caught:
            await client.complete(request())
        await client.aclose()
        assert caught.value.next_retry_delay() is not None
        assert fake.counts.rate_limited == 1 and fake.counts.answered == 2


def test_window_limits_count_requests_and_tokens_per_minute() -> None:
    rpm = WindowLimits(rpm=2)
    assert rpm.admit(10, 0.0) is None and rpm.admit(10, 1.0) is None
    assert rpm.admit(10, 2.0) == pytest.approx(58.0)
    assert rpm.admit(10, 60.5) is None  # the first expired
    tpm = WindowLimits(tpm=100)
    assert tpm.admit(60, 0.0) is None
    assert tpm.admit(60, 10.0) == pytest.approx(50.0)
    assert tpm.admit(30, 10.0) is None
    assert WindowLimits(tpm=100).admit(500, 0.0) == 60.0  # never fits: wait a whole window


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--latency-s", "-1"], "--latency-s must be >= 0"),
        (["--slow-share", "1.5", "--slow-s", "4"], "--slow-share must be in [0, 1]"),
        (["--slow-share", "0.3"], "--slow-share needs --slow-s"),
        (["--slow-s", "8-4"], "need 0 <= LOW <= HIGH"),
        (["--slow-s", "soon"], "is not seconds"),
        (["--model", " "], "--model must not be empty"),
        (["--rpm", "0"], "--rpm must be > 0"),
        (["--port", "70000"], "--port must be 0..65535"),
    ],
)
def test_bad_options_are_refused(args: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.fake_provider", *args], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 2 and message in done.stderr


def test_bad_values_are_refused_when_imported() -> None:
    with pytest.raises(ValueError, match="slow share"):
        Latency(slow_share=2.0)
    with pytest.raises(ValueError, match="latencies"):
        Latency(slow_s=5.0, slow_max_s=1.0)
    with pytest.raises(ValueError, match="model name"):
        FakeProvider("", Latency())


async def test_runs_as_its_own_process() -> None:
    flags = ["--port", "0", "--model", MODEL, "--latency-s", "0.2"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.fake_provider", *flags, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        base_url = line.split(" at ")[1].strip()
        client = client_at(base_url)
        assert (await client.complete(request())).model == MODEL
        await client.aclose()
    finally:
        proc.terminate()
    assert await asyncio.wait_for(proc.wait(), 10) == 0
