"""The approvals inbox and a run's page: static HTML with plain scripts, no build step.

The pages hold no data: their scripts call the /v1 routes with the token the person pastes (kept
in the tab's sessionStorage), so the page is exactly as authorized as the API itself.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse

STATIC = Path(__file__).parent / "static"


def page_routes() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    inbox, run = (STATIC / "inbox.html").read_text(), (STATIC / "run.html").read_text()

    @router.get("/")
    async def home() -> RedirectResponse:
        return RedirectResponse("/inbox")

    @router.get("/inbox", response_class=HTMLResponse)
    async def inbox_page() -> str:
        return inbox

    @router.get("/runs/{run_id}", response_class=HTMLResponse)
    async def run_page(run_id: str) -> str:
        return run

    return router
