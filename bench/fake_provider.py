"""A fake hosted model: an OpenAI-compatible HTTP server on loopback that answers like the scripted model.

    python -m bench.fake_provider --port 8400 [--model acme-hosted-7b] [--latency-s 20]
        [--slow-share 0.3 --slow-s 4-8] [--seed 7] [--rpm 600] [--tpm 200000]

The scripted model answers inside the worker's process at once, so no worker can die while a model
call is in flight. This server runs in its own process, takes the latency it is given, and answers
with the scripted model's `ScriptedTransport` and the served agents' stand-ins (AGENT_APPS, the demo
agent by default) behind a real socket. A call's latency is chosen by a
seeded rule keyed by its task and turn, so a retried call takes as long as its first attempt did.

`Limits` is the seam for provider-side quotas: `WindowLimits` refuses requests beyond --rpm requests
or --tpm tokens per minute with HTTP 429 and Retry-After. `GET /fake/state` shows the bench what is in
flight. A client that disconnects (a killed worker) cancels its call, as hosted providers do.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import signal
import time
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic_core import from_json, to_json

from activities.llm.models_from_env import stand_ins
from activities.llm.scripted import Policy, ScriptBook, ScriptedTransport, first_user_text
from bench.fake_http import HttpRequest, read_request, write_response
from bench.fake_limits import Limits, WindowLimits

COMPLETIONS = "/v1/chat/completions"
_JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Latency:
    """Every call takes `base_s`; a seeded `slow_share` of them take `slow_s`..`slow_max_s` instead."""

    base_s: float = 0.0
    slow_share: float = 0.0
    slow_s: float = 0.0
    slow_max_s: float = 0.0
    seed: int = 7

    def __post_init__(self) -> None:
        if self.base_s < 0 or self.slow_s < 0 or self.slow_max_s < self.slow_s:
            raise ValueError("latencies must be >= 0, and a slow range low-high with low <= high")
        if not 0 <= self.slow_share <= 1:
            raise ValueError(f"slow share must be in [0, 1], got {self.slow_share}")

    def for_call(self, task: str, turn: int) -> float:
        # A str seed is hashed with SHA-512: the same in every process, whatever PYTHONHASHSEED is.
        rng = random.Random(f"{self.seed}|{turn}|{task}")
        if self.slow_share and rng.random() < self.slow_share:
            return rng.uniform(self.slow_s, self.slow_max_s)
        return self.base_s


@dataclass
class InFlight:
    task: str
    turn: int
    started: float
    latency_s: float


@dataclass
class Counts:
    answered: int = 0
    client_gone: int = 0
    rate_limited: int = 0
    refused: int = 0


class FakeProvider:
    """The server; `start` binds a loopback port (0: any free one) and returns it."""

    def __init__(
        self, model: str, latency: Latency, limits: Limits | None = None, policy: Policy | None = None
    ) -> None:
        if not model.strip():
            raise ValueError("the served model name must not be empty")
        self.model = model
        self.latency = latency
        self.limits = limits
        if policy is None:
            from worker import served_agents  # the agents a worker here would serve, and their stand-ins

            policy = stand_ins(served_agents())
        self.transport = ScriptedTransport(ScriptBook({}, fallback=policy))
        self.inflight: dict[int, InFlight] = {}
        self.counts = Counts()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def state(self) -> dict[str, Any]:
        now = time.monotonic()
        calls = [
            {"task": c.task, "turn": c.turn, "age_s": now - c.started, "latency_s": c.latency_s}
            for c in self.inflight.values()
        ]
        return {"model": self.model, "counts": vars(self.counts), "inflight": calls}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One keep-alive connection: requests in turn until the client closes or leaves mid-call."""
        try:
            while (request := await read_request(reader)) is not None:
                try:
                    answer = await self.answer(request, reader)
                except Exception as exc:  # a bug here must read as a server error, not a dropped line
                    answer = _error(500, f"fake provider failed: {type(exc).__name__}: {exc}", "internal")
                if answer is None:
                    return
                await write_response(writer, *answer)
                if request.close:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return  # a killed client, or bytes that are not HTTP: nothing to answer
        finally:
            writer.close()

    async def answer(
        self, request: HttpRequest, reader: asyncio.StreamReader | None = None
    ) -> tuple[int, dict[str, str], bytes] | None:
        """(status, headers, body) for one request; None when the client left during the call."""
        if request.method == "GET" and request.path == "/fake/state":
            return 200, _JSON, to_json(self.state())
        if request.method == "GET" and request.path == "/v1/models":
            return 200, _JSON, to_json({"object": "list", "data": [{"id": self.model, "object": "model"}]})
        if request.method != "POST" or request.path != COMPLETIONS:
            return _error(404, f"no route {request.method} {request.path}", "not_found")
        try:
            body = from_json(request.body)
        except ValueError:
            return _error(400, "the body is not JSON", "invalid_json")
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            return _error(400, "the body needs a list of message objects", "invalid_request")
        if body.get("model") != self.model:
            self.counts.refused += 1
            return _error(404, f"The model `{body.get('model')}` does not exist", "model_not_found")
        return await self._complete(request.body, body, reader)

    async def _complete(
        self, raw: bytes, body: dict[str, Any], reader: asyncio.StreamReader | None
    ) -> tuple[int, dict[str, str], bytes] | None:
        """Quota, then latency, then the scripted model's answer under this server's model name."""
        wait = None if self.limits is None else self.limits.admit(_tokens(body), time.monotonic())
        if wait is not None:
            self.counts.rate_limited += 1
            status, headers, content = _error(429, "Rate limit reached; try again later.", "rate_limit")
            return status, {**headers, "Retry-After": str(max(1, math.ceil(wait)))}, content
        if not await self._take_latency(body, reader):
            self.counts.client_gone += 1
            return None
        reply = await self.transport.handle_async_request(
            httpx.Request("POST", f"http://fake{COMPLETIONS}", content=raw)
        )
        self.counts.answered += 1
        data = from_json(reply.content)
        if isinstance(data, dict) and "model" in data:
            data["model"] = self.model  # the scripted body names "scripted"; this server names its own
        return reply.status_code, _JSON, to_json(data)

    async def _take_latency(self, body: dict[str, Any], reader: asyncio.StreamReader | None) -> bool:
        """Wait the call's latency; False when the client closed the connection meanwhile."""
        messages = body["messages"]
        task = first_user_text(messages)
        turn = 1 + sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "assistant")
        seconds = self.latency.for_call(task, turn)
        if seconds <= 0:
            return True
        key = id(body)
        self.inflight[key] = InFlight(task[:2000], turn, time.monotonic(), seconds)
        try:
            if reader is None:
                await asyncio.sleep(seconds)
                return True
            # Clients do not pipeline: anything read now is the end of the connection.
            gone = asyncio.ensure_future(reader.read(1))
            done, _ = await asyncio.wait({gone}, timeout=seconds)
            if done:
                gone.exception()  # a reset is the client leaving too; retrieved so asyncio stays quiet
                return False
            gone.cancel()
            # Settled before the next request is read: a reader takes one waiter at a time.
            await asyncio.wait({gone})
            return True
        finally:
            del self.inflight[key]


def _tokens(body: dict[str, Any]) -> int:
    """What a quota charges up front: the prompt's estimate (4 chars per token) plus max_tokens."""
    chars = sum(len(str(m.get("content") or "")) for m in body["messages"] if isinstance(m, dict))
    max_tokens = body.get("max_tokens")
    return chars // 4 + (max_tokens if isinstance(max_tokens, int) else 0)


def _error(status: int, message: str, code: str) -> tuple[int, dict[str, str], bytes]:
    return (
        status,
        _JSON,
        to_json({"error": {"message": message, "type": "invalid_request_error", "code": code}}),
    )


# ── the command line ────────────────────────────────────────────────────────


def seconds_span(text: str) -> tuple[float, float]:
    """argparse type: seconds `S` or a range `LOW-HIGH`."""
    low, _, high = text.partition("-")
    try:
        span = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not seconds or LOW-HIGH seconds") from None
    if span[0] < 0 or span[1] < span[0]:
        raise argparse.ArgumentTypeError(f"{text!r}: need 0 <= LOW <= HIGH")
    return span


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fake_provider", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="loopback port (0: any free one)")
    parser.add_argument("--model", default="scripted", help="the model name served (and required)")
    parser.add_argument("--latency-s", type=float, default=0.0, help="seconds every call takes")
    parser.add_argument("--slow-share", type=float, default=0.0, help="share of calls that are slow")
    parser.add_argument(
        "--slow-s", type=seconds_span, default=(0.0, 0.0), help="a slow call's seconds, S or LO-HI"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rpm", type=int, default=None, help="requests per minute, then HTTP 429")
    parser.add_argument("--tpm", type=int, default=None, help="tokens per minute, then HTTP 429")
    args = parser.parse_args(argv)
    problems = [
        "--port must be 0..65535" * (not 0 <= args.port <= 65535),
        "--model must not be empty" * (not args.model.strip()),
        "--latency-s must be >= 0" * (not args.latency_s >= 0),
        "--slow-share must be in [0, 1]" * (not 0 <= args.slow_share <= 1),
        "--slow-share needs --slow-s" * (args.slow_share > 0 and args.slow_s[1] <= 0),
        "--rpm must be > 0" * (args.rpm is not None and args.rpm <= 0),
        "--tpm must be > 0" * (args.tpm is not None and args.tpm <= 0),
    ]
    if any(problems):
        parser.error("; ".join(p for p in problems if p))
    return args


def build(args: argparse.Namespace) -> FakeProvider:
    low, high = args.slow_s
    latency = Latency(args.latency_s, args.slow_share, low, high, seed=args.seed)
    limits = WindowLimits(args.rpm, args.tpm) if args.rpm or args.tpm else None
    return FakeProvider(args.model, latency, limits)


async def serve(args: argparse.Namespace) -> None:
    provider = build(args)
    port = await provider.start(args.port)
    print(f"fake_provider: serving {provider.model} at http://127.0.0.1:{port}/v1", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await provider.close()


if __name__ == "__main__":
    asyncio.run(serve(parse_args(None)))
