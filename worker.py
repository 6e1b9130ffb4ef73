"""Worker: wiring only. The agents of AGENT_APPS, their models and dependencies, on one task queue."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.worker import Replayer, Worker

from activities.breaker import BreakerBoard
from activities.interceptors import ActivityLoggingInterceptor
from activities.ledger import LedgerActivities
from activities.llm.activity import LlmActivities
from activities.llm.factory import price_book
from activities.llm.llama_settings import LlamaSettings
from activities.llm.models_from_env import extra_specs, open_models
from activities.llm.registry import LlmProvider, ModelRegistry
from activities.llm.summarize import SummarizeActivities
from activities.memory import EpisodeStore, MemoryActivities
from activities.ratelimit import FleetLimiter
from activities.tools.activities import ToolHooks, build_tool_activities
from core.agent import Agent, AgentEnv
from core.apps import load_agents, opened_deps
from core.client import connect
from core.config import ConfigError, Settings
from core.gc_tuning import tune_gc
from core.logging import configure_logging
from core.process import exit_now
from core.ratelimit import RateLimit, RateLimitConfigError, parse_limits
from core.served import Served, ServingError, for_replay, serve
from core.telemetry import install_runtime_from_env, metrics_bind_address, tracing_interceptors
from core.worker_options import worker_options
from evals.scheduled import EvalActivities
from evals.suite_workflow import EvalSuiteWorkflow
from workflows.agent import AgentWorkflow
from workflows.batch import BatchWorkflow
from workflows.conversation import ConversationWorkflow
from workflows.ledger import UserDayLedgerWorkflow
from workflows.rate_limiter import RateLimiterWorkflow

log = structlog.get_logger()

# The two demo agents; a deployment names its own (AGENT_APPS=my_pkg.agent:AGENT,…).
DEFAULT_APPS = "agents.merchant_support:AGENT,agents.shop:AGENT"


def served_agents(env: Mapping[str, str] | None = None) -> list[Agent[Any]]:
    """The agents AGENT_APPS names (the two demo agents by default); ConfigError names a bad entry."""
    env = os.environ if env is None else env
    return load_agents(env.get("AGENT_APPS") or DEFAULT_APPS)


def build_worker(
    client: Client,
    task_queue: str,
    agents: Sequence[Agent[Any]],
    models: ModelRegistry | LlmProvider,
    deps: Mapping[str, Any],
    hooks: ToolHooks | None = None,
    breakers: Mapping[str, BreakerBoard] | None = None,
    data_dir: Path | None = None,
    memory: EpisodeStore | None = None,
    rate_limits: Mapping[str, RateLimit] | None = None,
    **options: Any,
) -> Worker:
    """The worker of a deployment; `options` override the production ones (core/worker_options.py).

    ConfigError, before anything polls: two agents of one name, a tool whose activity name another
    already registers, an agent without the dependencies its definition asks for.
    `memory` holds conversations' episodes (None: a store of this worker's own, in memory).
    """
    options = {**worker_options(), **options}
    registry = models if isinstance(models, ModelRegistry) else ModelRegistry.single(models)
    try:
        served = Served.of(list(agents), sorted(registry.names()))
    except ServingError as exc:
        raise ConfigError(str(exc)) from None
    limiter = _limiter(client, task_queue, registry, agents, rate_limits)  # the fleet's rate limiters
    tools = _tool_activities(agents, deps, hooks, breakers or {}, limiter)
    serve(task_queue, served)
    ledger = LedgerActivities(client, task_queue)  # per-user daily ledgers live on this queue too
    # Ours first, so every event (the tracer's included) carries the activity's context.
    interceptors = [ActivityLoggingInterceptor(), *tracing_interceptors(), *options.pop("interceptors", ())]
    episodes = MemoryActivities(memory or EpisodeStore.open(":memory:"))
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[
            AgentWorkflow,
            UserDayLedgerWorkflow,
            EvalSuiteWorkflow,
            ConversationWorkflow,
            RateLimiterWorkflow,
            BatchWorkflow,
        ],
        activities=[
            # The scheduled eval (evals/scheduled.py): results stored under the data dir.
            EvalActivities(agents, registry, deps, data_dir).run_suite,
            episodes.write_episode,
            episodes.recall_episodes,
            LlmActivities(registry, served.agents, limiter).complete,
            SummarizeActivities(registry, served.agents).summarize,
            ledger.reserve,
            ledger.settle,
            *tools,
        ],
        # Let in-flight activities finish on SIGTERM instead of being retried elsewhere.
        graceful_shutdown_timeout=timedelta(seconds=30),
        interceptors=interceptors,
        **options,
    )


def _limiter(
    client: Client,
    task_queue: str,
    models: ModelRegistry,
    agents: Sequence[Agent[Any]],
    limits: Mapping[str, RateLimit] | None,
) -> FleetLimiter | None:
    """The fleet limiter of these limits; ConfigError for a limit on a model or tool not served here."""
    if not limits:
        return None
    tools = {f"tool:{agent.name}.{spec.name}" for agent in agents for spec in agent.tools}
    unknown = sorted(key for key in limits if key not in models.names() and key not in tools)
    if unknown:
        raise ConfigError(f"rate limits for models or tools this worker does not serve: {unknown}")
    return FleetLimiter(client, task_queue, limits)


def rate_limits_from_env(env: Mapping[str, str] | None = None) -> dict[str, RateLimit]:
    """AGENT_RATE_LIMITS; ConfigError for a limit that cannot be met (0 requests, negative tokens)."""
    env = os.environ if env is None else env
    try:
        return parse_limits(env.get("AGENT_RATE_LIMITS", ""))
    except RateLimitConfigError as exc:
        raise ConfigError(str(exc)) from None


def build_replayer(agents: Sequence[Agent[Any]], data_converter: DataConverter) -> Replayer:
    """A Replayer of agent runs: histories of any task queue resolve their agents among `agents`."""
    for_replay(Served.of(list(agents)))
    workflows = [
        AgentWorkflow,
        UserDayLedgerWorkflow,
        ConversationWorkflow,
        RateLimiterWorkflow,
        BatchWorkflow,
    ]
    return Replayer(workflows=workflows, data_converter=data_converter)


def _tool_activities(
    agents: Sequence[Agent[Any]],
    deps: Mapping[str, Any],
    hooks: ToolHooks | None,
    breakers: Mapping[str, BreakerBoard],
    limiter: FleetLimiter | None = None,
) -> list[Any]:
    built: list[Any] = []
    names: set[str] = set()
    for agent in agents:
        if agent.deps is not None and deps.get(agent.name) is None:
            raise ConfigError(f"agent {agent.name!r} needs its dependencies (its `deps`), none were given")
        for spec in agent.tools:
            for name in {agent.activity_name(spec), agent.activity_name(spec, precheck=True)}:
                if name in names:
                    raise ConfigError(f"two tools would register the activity {name!r}")
                names.add(name)
        board = breakers.get(agent.name)  # None: from the specs and AGENT_BREAKERS
        built += build_tool_activities(agent, deps.get(agent.name), hooks, breakers=board, limiter=limiter)
    return built


async def main() -> None:
    configure_logging()
    settings = Settings.from_env()
    price = price_book(settings).require_default()  # a model nobody can price stops the worker here
    # A bad AGENT_LLAMA_* stops the worker here, before it connects.
    llama = LlamaSettings.from_env() if settings.llm_provider == "local" else None
    options = worker_options()  # a bad AGENT_WORKFLOW_RUNNER stops the worker here, before it polls
    gc_thresholds = tune_gc()  # ...and a bad AGENT_GC_THRESHOLD
    agents = served_agents()  # ...and a bad AGENT_APPS
    extra_specs()  # ...and a bad AGENT_MODELS
    rate_limits = rate_limits_from_env()  # ...and a rate limit that cannot be met
    # Before the client exists: the client (and so the worker) takes the default runtime.
    runtime = install_runtime_from_env()
    client = await connect(settings)
    memory = EpisodeStore.open(settings.data_dir / "memory.sqlite")
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with (
        opened_deps(agents, AgentEnv(settings.data_dir, settings)) as deps,
        open_models(settings, agents, llama=llama) as models,
        build_worker(
            client,
            settings.task_queue,
            agents,
            models,
            deps,
            data_dir=settings.data_dir,
            memory=memory,
            rate_limits=rate_limits,
            **options,
        ),
    ):
        log.info(
            "worker.ready",
            task_queue=settings.task_queue,
            agents=[agent.name for agent in agents],
            models=sorted(models.names()),
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
