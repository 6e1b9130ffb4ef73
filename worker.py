"""Worker: wiring only — client, converter, the workflow and every activity on one task queue."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.interceptors import ActivityLoggingInterceptor
from activities.llm.activity import LlmActivities
from activities.llm.factory import open_provider, price_book
from activities.llm.summarize import SummarizeActivities
from activities.tools.activities import ToolFaults, build_tool_activities
from activities.tools.store import Store
from activities.toolsets import TOOLSETS
from core.client import connect
from core.config import ConfigError, Settings
from core.gc_tuning import tune_gc
from core.logging import configure_logging
from core.process import exit_now
from core.telemetry import install_runtime_from_env, metrics_bind_address, tracing_interceptors
from core.worker_options import worker_options
from workflows.agent import AgentWorkflow
from workflows.ledger import LedgerActivities, UserDayLedgerWorkflow

log = structlog.get_logger()


def build_worker(
    client: Client,
    task_queue: str,
    provider: Any,
    store: Store,
    faults: ToolFaults | None = None,
    **options: Any,
) -> Worker:
    """The worker of a deployment; `options` override the production ones (core/worker_options.py)."""
    options = {**worker_options(), **options}
    llm = LlmActivities(provider)
    ledger = LedgerActivities(client, task_queue)  # per-user daily ledgers live on this queue too
    # Ours first, so every event (the tracer's included) carries the activity's context.
    interceptors = [ActivityLoggingInterceptor(), *tracing_interceptors(), *options.pop("interceptors", ())]
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[AgentWorkflow, UserDayLedgerWorkflow],
        activities=[
            llm.complete,
            SummarizeActivities(provider).summarize,
            ledger.reserve,
            ledger.settle,
            *(fn for registry in TOOLSETS.values() for fn in build_tool_activities(registry, store, faults)),
        ],
        # Let in-flight activities finish on SIGTERM instead of being retried elsewhere.
        graceful_shutdown_timeout=timedelta(seconds=30),
        interceptors=interceptors,
        **options,
    )


async def main() -> None:
    configure_logging()
    settings = Settings.from_env()
    price = price_book(settings).require_default()  # a model nobody can price stops the worker here
    options = worker_options()  # a bad AGENT_WORKFLOW_RUNNER stops the worker here, before it polls
    gc_thresholds = tune_gc()  # ...and a bad AGENT_GC_THRESHOLD
    # Before the client exists: the client (and so the worker) takes the default runtime.
    runtime = install_runtime_from_env()
    client = await connect(settings)
    store = await Store.open_async(settings.data_dir)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with (
        open_provider(settings) as provider,
        build_worker(client, settings.task_queue, provider, store, **options),
    ):
        log.info(
            "worker.ready",
            task_queue=settings.task_queue,
            provider=settings.llm_provider,
            price=price.model_dump(),
            metrics=metrics_bind_address() if runtime is not None else None,
            gc_threshold=gc_thresholds,
        )
        ready_file = os.environ.get("AGENT_WORKER_READY_FILE")
        if ready_file:
            # Tells `make demo` the worker polls (and the model is loaded); tiny write, once.
            Path(ready_file).write_text(str(os.getpid()))  # noqa: ASYNC240
        await stop.wait()
    log.info("worker.stopped")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except ConfigError as exc:
        print(f"worker: {exc}", file=sys.stderr)
        exit_now(1)
    exit_now(0)  # after a graceful shutdown; not sys.exit: see core/process.py
