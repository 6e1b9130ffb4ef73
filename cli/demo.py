"""`make demo`: one support case on the embedded model, approved by a demo operator when it pauses.

`make demo APPROVE_ON_PAGE=1`: the person approves it on the run's page of the API instead (`make
demo` starts the API); the demo mints them an approver token and waits for their decision.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

import httpx
from temporalio.client import WorkflowHandle

from api.__main__ import token_store  # the token database `make api` serves (AGENT_DATA_DIR/api.db)
from cli import decisions, humans, runs
from cli.errors import EXIT_FAILED, EXIT_OK, CliError
from cli.render import approve_commands
from core.client import connect
from core.config import Settings
from core.models import Escalation, PendingApproval, RunState
from core.process import exit_now
from core.telemetry import metrics_bind_address

DEMO_TASK = "Merchant MID001 says pay_ABC123 was charged twice; refund the duplicate."
OPERATOR = "demo-operator"
PAUSE_SECONDS = 3.0
OPERATOR_REPLY = (
    "Thanks for your patience: a member of our payments team has your case and will contact you "
    "within one business day."
)


def say(line: str) -> None:
    print(line, flush=True)


async def approve_as_operator(handle: WorkflowHandle[Any, Any], item: PendingApproval) -> None:
    say("")
    say(f"  The run is waiting for a human to approve {item.tool} (call {item.call_id}).")
    say("  A person would now run one of:")
    for command in approve_commands(handle.id, item, approver="YOUR_NAME"):
        say(f"    {command}")
    say(f"  (or use Signal in the Temporal UI). So the demo finishes by itself, in {PAUSE_SECONDS:.0f} s")
    say(f"  it approves as {OPERATOR}.")
    await asyncio.sleep(PAUSE_SECONDS)
    decision = await decisions.approve(handle, item.call_id, OPERATOR, "approved by the demo script")
    say(f"  ✔ approved {decision['call_id']} ({decision['tool']}) as {OPERATOR}")
    say("")


async def approve_on_page(handle: WorkflowHandle[Any, Any], item: PendingApproval) -> None:
    _, token = token_store(Settings.from_env()).mint("demo-person", ["approver"])
    port = os.environ.get("AGENT_API_PORT", "8000")
    say("")
    say(f"  The run is waiting for a human to approve {item.tool} (call {item.call_id}). Approve it on")
    say(f"    http://127.0.0.1:{port}/runs/{handle.id}")
    say(f"  with this approver token (paste it when the page asks): {token}")
    say("  The demo waits for your decision.")
    say("")


async def reply_as_operator(handle: WorkflowHandle[Any, Any], escalation: Escalation) -> None:
    say(f"  So the demo finishes by itself, in {PAUSE_SECONDS:.0f} s {OPERATOR} answers the escalation.")
    await asyncio.sleep(PAUSE_SECONDS)
    await humans.reply(handle, OPERATOR, OPERATOR_REPLY, resume=False)
    say(f"  ✔ replied as {OPERATOR}")


async def demo() -> int:
    settings = Settings.from_env()
    client = await connect(settings)
    request = runs.build_request(DEMO_TASK, "demo-user")
    run_id = time.strftime("demo-%Y%m%d-%H%M%S")
    handle = await runs.start(client, settings, request, run_id)
    say(f"task: {DEMO_TASK}")
    say(f"run {handle.id} started (model: {settings.llm_provider}); live progress:")
    on_page = os.environ.get("APPROVE_ON_PAGE", "") not in ("", "0")
    approver = approve_on_page if on_page else approve_as_operator
    result = await runs.follow(handle, say, on_pending=approver, on_escalated=reply_as_operator)
    outcome = runs.outcome_of(result, settings)
    for line in runs.render_result(outcome.data):
        say(line)
    say(f"inspect it: python starter.py status {handle.id}   (stop everything with `make stop`)")
    say(f"trace it:   python starter.py trace {handle.id}   (works with the worker stopped)")
    metrics = metrics_bind_address()
    if metrics is not None:
        say(f"metrics:    http://{metrics}/metrics   {await _scrape_hint(metrics)}")
    # Any outcome the agent explains (completed, escalated, denied, out of budget) is a finished demo.
    return EXIT_FAILED if result.status == RunState.FAILED else EXIT_OK


async def _scrape_hint(address: str) -> str:
    """Whether the worker serves them (a worker started earlier without metrics does not)."""
    try:
        async with httpx.AsyncClient(timeout=3) as http:
            text = (await http.get(f"http://{address}/metrics")).text
    except httpx.HTTPError:
        return "(not served: the running worker has no metrics; `make stop && make demo`)"
    samples = [line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith("agent_runs{")]
    runs_seen = sum(float(value) for value in samples)
    return f"(Prometheus; agent_runs so far: {runs_seen:g}; e.g. curl it | grep '^agent_')"


def main() -> None:
    try:
        code = asyncio.run(demo())
    except CliError as exc:
        print(f"error ({exc.kind}): {exc.message}", file=sys.stderr)
        code = exc.code
    exit_now(code)  # not sys.exit: see core/process.py


if __name__ == "__main__":
    main()
