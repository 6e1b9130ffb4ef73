"""The HTTP front door: FastAPI routes over api/service.py, bearer tokens on every /v1 route.

    app = create_app(Service(AgentClient(client, queue), TokenStore(path), agents, ui_url, namespace))

OpenAPI at /docs. Errors are JSON {type, message} (api/errors.py); bodies over 1 MB are refused
before any route reads them (api/body_limit.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter as APIRouter
from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api import events
from api.bodies import Accepted, ApprovalView, Cancel, Decision, Reply, RunCreated, RunView, StartRun
from api.body_limit import BodyLimit
from api.errors import ApiError, install_error_handlers
from api.pages import page_routes
from api.service import Service
from api.threads import thread_routes
from api.tokens import Identity
from core.errors import AuthError

_bearer = HTTPBearer(auto_error=False, description="an API token: `python -m api token mint …`")


def create_app(service: Service) -> FastAPI:
    app = FastAPI(title="Durable agents", version="1", summary="Start runs, follow them, decide approvals")
    app.state.service = service
    install_error_handlers(app)
    app.add_middleware(BodyLimit)
    app.include_router(_routes())
    app.include_router(thread_routes(service, _identity))
    app.include_router(page_routes())
    return app


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _identity(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Identity:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, AuthError("a bearer token is required: Authorization: Bearer agt_…"))
    try:
        return _service(request).tokens.identify(credentials.credentials)
    except AuthError as err:
        raise ApiError(401, err) from None


Svc = Annotated[Service, Depends(_service)]
Who = Annotated[Identity, Depends(_identity)]


def _routes() -> APIRouter:
    router = APIRouter(prefix="/v1")

    @router.post("/runs", status_code=201, response_model=RunCreated)
    async def start_run(
        body: StartRun,
        service: Svc,
        who: Who,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> RunCreated:
        """Start a run; the Idempotency-Key is its id, so a repeat returns the same run."""
        handle, created = await service.start(who, body, idempotency_key)
        links = {name: f"/v1/runs/{handle.id}{tail}" for name, tail in _LINKS.items()}
        return RunCreated(run_id=handle.id, created=created, links=links)

    @router.get("/runs/{run_id}", response_model=RunView)
    async def get_run(run_id: str, service: Svc, who: Who) -> RunView:
        """The run's state and pending approvals; its result once it has ended."""
        return await service.view(run_id)

    @router.get("/runs/{run_id}/events", response_class=StreamingResponse)
    async def run_events(
        run_id: str,
        service: Svc,
        who: Who,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    ) -> StreamingResponse:
        """Server-sent events: `progress` and `text` (id = offset) after Last-Event-ID, then `result`."""
        since = events.resume_after(last_event_id)
        run = await service.describe(run_id)
        await events.check_offset(service, run, since)
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        body = events.stream(service, run, since)
        return StreamingResponse(body, media_type="text/event-stream", headers=headers)

    @router.post("/runs/{run_id}/decisions", response_model=Accepted)
    async def decide(run_id: str, body: Decision, service: Svc, who: Who) -> Accepted:
        """Approve or deny a pending call, bound to its args_sha256; answered when the run has it.
        The approver is the token's identity."""
        return await service.decide(who, run_id, body)

    @router.post("/runs/{run_id}/reply", response_model=Accepted)
    async def reply(run_id: str, body: Reply, service: Svc, who: Who) -> Accepted:
        """Answer an escalated run: the final answer, or guidance with `resume`."""
        return await service.reply(who, run_id, body)

    @router.post("/runs/{run_id}/cancel", response_model=Accepted)
    async def cancel(run_id: str, body: Cancel, service: Svc, who: Who) -> Accepted:
        """Stop the run after its current step; it ends with a `cancelled` result."""
        return await service.cancel(who, run_id, body)

    @router.get("/approvals", response_model=list[ApprovalView])
    async def approvals(service: Svc, who: Who) -> list[ApprovalView]:
        """Every pending approval across runs (from visibility), with the roles each needs."""
        return await service.approvals()

    return router


_LINKS = {"self": "", "events": "/events", "decisions": "/decisions"}
