"""The HTTP API over a real dev server (visibility answers search-attribute queries) and the
production worker on strict options, in this process; requests go through httpx's ASGI transport."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from activities.llm.scripted import ScriptedReply
from agents.merchant_support import Store
from api import Service, TokenStore, create_app
from client import AgentClient
from core.agent import Agent
from core.client import connect
from core.config import Settings
from core.models import PendingApproval
from tests.conftest import DEMO, SHOP, scripted_provider, strict_worker
from tests.live_stack import running_server


@dataclass
class ApiStack:
    client: Client
    runs: AgentClient
    tokens: TokenStore
    http: httpx.AsyncClient
    store: Store
    service: Service

    def bearer(self, identity: str, *roles: str) -> dict[str, str]:
        _, token = self.tokens.mint(identity, list(roles))
        return {"Authorization": f"Bearer {token}"}

    async def start(self, task: str, user: str, headers: dict[str, str], key: str | None = None) -> str:
        extra = {"Idempotency-Key": key} if key else {}
        body = {"task": task, "user": user, "agent": DEMO.name}
        response = await self.http.post("/v1/runs", json=body, headers={**headers, **extra})
        assert response.status_code == 201, response.text
        return str(response.json()["run_id"])

    async def pending(self, run_id: str, headers: dict[str, str]) -> PendingApproval:
        for _ in range(200):
            view = (await self.http.get(f"/v1/runs/{run_id}", headers=headers)).json()
            if view.get("pending"):
                return PendingApproval.model_validate(view["pending"][0])
            await asyncio.sleep(0.05)
        raise AssertionError(f"no approval became pending in {run_id}")

    async def result(self, run_id: str, headers: dict[str, str]) -> dict[str, Any]:
        for _ in range(400):
            view = (await self.http.get(f"/v1/runs/{run_id}", headers=headers)).json()
            if view.get("result"):
                return dict(view["result"])
            await asyncio.sleep(0.05)
        raise AssertionError(f"{run_id} did not end")

    async def history_events(self, run_id: str) -> int:
        return len([e async for e in self.runs.handle(run_id).fetch_history_events()])


@contextlib.asynccontextmanager
async def api_stack(
    tmp: Path, scripts: dict[str, list[ScriptedReply]], provider: Any = None, *, streams: bool = False
) -> AsyncIterator[ApiStack]:
    """`provider`: the model (default: `scripts`, scripted, streaming its replies when `streams`)."""
    with contextlib.ExitStack() as server:
        # The server helper probes with asyncio.run: it must start outside this event loop.
        address, _ = await asyncio.to_thread(server.enter_context, running_server(tmp))
        try:
            client = await connect(Settings(temporal_address=address, data_dir=tmp / "data"))
            store = Store.open(tmp)
            queue = f"api-{uuid.uuid4().hex[:8]}"
            model = provider or scripted_provider(scripts, streams=streams)
            async with strict_worker(client, queue, model, store):
                runs = AgentClient(client, queue)
                tokens = TokenStore(tmp / "api.db")
                agents: dict[str, Agent[Any]] = {DEMO.name: DEMO, SHOP.name: SHOP}
                service = Service(runs, tokens, agents, "http://ui.invalid", "default")
                transport = httpx.ASGITransport(app=create_app(service))
                async with httpx.AsyncClient(transport=transport, base_url="http://api", timeout=60) as http:
                    yield ApiStack(client, runs, tokens, http, store, service)
        finally:
            await asyncio.to_thread(server.close)


def sse_frames(text: str) -> list[dict[str, Any]]:
    """The frames of an SSE body: id (int or None), event, data (parsed JSON)."""
    frames = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if fields:
            event_id = fields.get("id")
            frames.append(
                {
                    "id": int(event_id) if event_id is not None else None,
                    "event": fields["event"],
                    "data": json.loads(fields["data"]),
                }
            )
    return frames
