"""`python starter.py …`: argument parsing, dispatch, output and exit codes (docs/architecture.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TextIO

from pydantic import ValidationError
from temporalio.client import Client

from cli import chat, decisions, humans, inspect, live_text, runs, trace
from cli.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError
from client.conversations import ConversationClient
from core.client import connect
from core.config import ConfigError, Settings


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CliError("UsageError", f"{message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="starter.py", description="Durable ReAct agents on Temporal")
    parser.add_argument("--json", action="store_true", help="print one JSON document for scripts")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="start a run and follow it")
    run.add_argument("task")
    run.add_argument("--user", default="anonymous")
    run.add_argument(
        "--agent", default=None, help="which of the worker's agents runs it (default: its first)"
    )
    run.add_argument("--id", dest="run_id", help="request id = workflow id; a repeat joins the same run")
    run.add_argument("--no-wait", action="store_true", help="print the run id and return at once")
    for name, helptext in (
        ("approve", "approve a pending irreversible call"),
        ("deny", "deny a pending call"),
    ):
        cmd = sub.add_parser(name, help=helptext)
        cmd.add_argument("workflow_id")
        cmd.add_argument("--call", dest="call_id", help="the pending call id (needed when several wait)")
        cmd.add_argument("--by", default=None, help="who decides (recorded in the audit trail)")
        cmd.add_argument("--reason", required=(name == "deny"))
    cancel = sub.add_parser("cancel", help="stop a run after its current step")
    cancel.add_argument("workflow_id")
    cancel.add_argument("--by", default="cli")
    cancel.add_argument("--reason", default="cancelled from the CLI")
    reply = sub.add_parser("reply", help="answer an escalated run")
    reply.add_argument("workflow_id")
    reply.add_argument("text")
    reply.add_argument("--by", default=None, help="who answers (recorded in the audit trail)")
    reply.add_argument("--resume", action="store_true", help="guidance: the agent resumes instead of ending")
    sub.add_parser("pending", help="every run waiting for a human, across the namespace")
    status = sub.add_parser("status", help="show a run's state and pending approvals")
    status.add_argument("workflow_id")
    trace_cmd = sub.add_parser("trace", help="the reasoning chain and totals, from history alone")
    trace_cmd.add_argument("workflow_id")
    replay = sub.add_parser("replay", help="replay a history (file or run id) against the current code")
    replay.add_argument("target")
    fork = sub.add_parser("fork", help="a new run from a run's state at the end of a turn (from history)")
    fork.add_argument("workflow_id")
    fork.add_argument("--at-turn", type=int, required=True)
    fork.add_argument("--prompt-version", default=None, help="default: the parent's version")
    fork.add_argument("--model", default=None, help="the fork's model, a name the worker serves")
    fork.add_argument("--id", dest="run_id", help="the fork's workflow id")
    fork.add_argument("--no-wait", action="store_true", help="print the fork's id and return at once")
    export_case = sub.add_parser("export-case", help="a finished run as an editable eval case (YAML)")
    export_case.add_argument("workflow_id")
    export_case.add_argument(
        "--out", type=Path, default=None, help="default: evals/<agent>/exported-<id>.yaml"
    )
    export_history = sub.add_parser("export-history", help="a run's history under tests/histories/")
    export_history.add_argument("workflow_id")
    evals = sub.add_parser("evals", help="recent stored eval results; `evals schedule` the daily eval")
    evals.add_argument("action", nargs="?", choices=["list", "schedule"], default="list")
    evals.add_argument("--agent", default=None, help="one agent (schedule: default every served agent)")
    evals.add_argument("--every-hours", type=float, default=24.0, help="schedule: hours between runs")
    _conversation_commands(sub)
    for cmd in sub.choices.values():
        cmd.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def _conversation_commands(sub: Any) -> None:
    talk = sub.add_parser("chat", help="a conversation: each line a message, approvals inline")
    talk.add_argument("--thread", default=None, help="thread id = workflow id; a repeat continues it")
    send = sub.add_parser("send", help="send one message to a conversation and print the answer")
    send.add_argument("thread")
    send.add_argument("text")
    send.add_argument("--no-wait", action="store_true", help="print the message id and return at once")
    for cmd in (talk, send):
        cmd.add_argument(
            "--agent", default=None, help="which of the worker's agents talks (default: its first)"
        )
        cmd.add_argument(
            "--user", default="anonymous", help="whom the conversation is with (its memory's key)"
        )
        cmd.add_argument("--by", default=os.environ.get("USER") or "cli", help="who decides approvals inline")


async def _converse(args: argparse.Namespace, settings: Settings, emit: runs.Emit) -> tuple[int, Any]:
    chats = ConversationClient(await _client(settings), settings.task_queue)
    opening = {"agent": args.agent, "user_id": args.user}
    if args.command == "send":
        return await chat.send(chats, args.thread, args.text, emit, wait=not args.no_wait, **opening)

    async def ask(prompt: str) -> str:
        return await asyncio.to_thread(input, prompt)

    return await chat.chat(chats, args.thread, emit, ask, args.by, **opening)


async def _client(settings: Settings) -> Client:
    try:
        return await connect(settings)
    except Exception as exc:  # connection failures come in several types; all mean the same to a user
        raise CliError(
            "TemporalUnavailable",
            f"cannot reach Temporal at {settings.temporal_address} ({exc}); start it with `make server`",
            EXIT_FAILED,
        ) from None


async def dispatch(
    args: argparse.Namespace, emit: runs.Emit, write: Callable[[str], None] | None = None
) -> tuple[int, Any]:
    """Run one command; `write` shows text as it arrives (the model's reply, while `run` waits)."""
    settings = Settings.from_env()
    if args.command == "run":
        request = runs.build_request(args.task, args.user, args.agent)
        client = await _client(settings)
        handle = await runs.start(client, settings, request, args.run_id)
        if args.no_wait:
            return EXIT_OK, {"workflow_id": handle.id, "started": True}
        emit(f"run {handle.id} started on task queue {settings.task_queue}")
        if write is None:
            outcome = runs.outcome_of(await runs.follow(handle, emit, client=client), settings)
            return outcome.code, outcome.data
        console = live_text.LiveConsole(write)
        followed = runs.follow(handle, console.line, client=client)
        outcome = runs.outcome_of(await live_text.with_text(client, handle.id, console, followed), settings)
        return outcome.code, outcome.data
    if args.command in ("chat", "send"):
        return await _converse(args, settings, emit)
    if args.command == "replay":
        try:
            maybe_client: Client | None = await _client(settings)
        except CliError:
            maybe_client = None  # a history file replays without a server
        return EXIT_OK, await inspect.replay(maybe_client, args.target)
    if args.command == "trace":
        return await trace.trace(await _client(settings), args.workflow_id)
    if args.command == "fork":
        return await _fork(args, settings, emit)
    if args.command == "evals":
        return await _evals(args, settings)
    if args.command in ("export-case", "export-history"):
        from cli import export
        from worker import served_agents

        client = await _client(settings)
        if args.command == "export-history":
            return EXIT_OK, await export.export_history(client, args.workflow_id)
        return EXIT_OK, await export.export_case(
            client, served_agents(), settings.data_dir, args.workflow_id, args.out
        )
    if args.command in ("approve", "deny", "reply") and not args.by:
        raise CliError("UsageError", f"{args.command} needs --by NAME: every decision records who made it")
    client = await _client(settings)
    if args.command == "pending":
        return EXIT_OK, {"runs": await humans.pending(client)}
    handle = await decisions.existing_handle(client, args.workflow_id)
    if args.command == "status":
        return await inspect.status(handle, client)
    if args.command == "reply":
        return EXIT_OK, await humans.reply(handle, args.by, args.text, args.resume)
    if args.command == "approve":
        return EXIT_OK, await decisions.approve(handle, args.call_id, args.by, args.reason)
    if args.command == "deny":
        return EXIT_OK, await decisions.deny(handle, args.call_id, args.by, args.reason)
    return EXIT_OK, await decisions.cancel(handle, args.by, args.reason)


async def _fork(args: argparse.Namespace, settings: Settings, emit: runs.Emit) -> tuple[int, Any]:
    from cli.fork import fork
    from worker import served_agents  # the deployment's agents, to replay the parent's history

    client = await _client(settings)
    handle = await fork(
        client,
        served_agents(),
        settings.task_queue,
        args.workflow_id,
        args.at_turn,
        prompt_version=args.prompt_version,
        model=args.model,
        fork_id=args.run_id,
    )
    if args.no_wait:
        return EXIT_OK, {"workflow_id": handle.id, "forked_from": args.workflow_id, "at_turn": args.at_turn}
    emit(f"run {handle.id} forked from {args.workflow_id} at turn {args.at_turn}")
    outcome = runs.outcome_of(await runs.follow(handle, emit, client=client), settings)
    return outcome.code, outcome.data


async def _evals(args: argparse.Namespace, settings: Settings) -> tuple[int, Any]:
    from datetime import timedelta

    from evals.results import ResultStore

    if args.action == "list":
        return EXIT_OK, {"results": ResultStore(settings.data_dir / "evals").recent(args.agent)}
    from evals.schedule import create_schedule
    from evals.suite_models import EvalSuiteRequest
    from worker import served_agents

    client = await _client(settings)
    names = [args.agent] if args.agent else [a.name for a in served_agents()]
    every = timedelta(hours=args.every_hours)
    made = [
        await create_schedule(client, settings.task_queue, EvalSuiteRequest(agent=name), every)
        for name in names
    ]
    return EXIT_OK, {"schedules": made}


def _print_text(command: str, data: Any) -> None:
    if command in ("run", "fork", "send") and "answer" in data:
        print(data["answer"] if command == "send" else "\n".join(runs.render_result(data)))
    elif command == "status":
        print("\n".join(inspect.render_status(data)))
    elif command == "pending":
        print("\n".join(humans.render_pending(data["runs"])))
    elif command == "trace":
        print("\n".join(trace.render(data)))
    elif command == "evals":
        for r in data.get("results", []):
            drift = "  DRIFT" if r.get("drift") else ""
            score = f"{r['passed']}/{r['cases']} ({r['pass_rate']:.0%})"
            print(f"{r['at']} {r['agent']} {r['label']}: {score}{drift}")
        for s in data.get("schedules", []):
            print(
                f"schedule {s['schedule_id']}: {'created' if s['created'] else 'exists already (kept one)'}"
            )
    else:
        print(" ".join(f"{k}={v}" for k, v in data.items()))


def _writer(stream: TextIO) -> Callable[[str], None]:
    def write(text: str) -> None:
        stream.write(text)
        stream.flush()

    return write


def main(argv: list[str] | None = None) -> int:
    as_json = "--json" in (argv if argv is not None else sys.argv[1:])
    try:
        args = build_parser().parse_args(argv)
        # With --json, progress goes to stderr so stdout stays one parseable document.
        stream = sys.stderr if as_json else sys.stdout
        code, data = asyncio.run(
            dispatch(args, lambda line: print(line, file=stream, flush=True), _writer(stream))
        )
    except (CliError, ConfigError, ValidationError) as exc:
        err = exc if isinstance(exc, CliError) else CliError(type(exc).__name__, str(exc), EXIT_USAGE)
        if as_json:
            print(json.dumps({"error": {"type": err.kind, "message": err.message}, "exit_code": err.code}))
        else:
            print(f"error ({err.kind}): {err.message}", file=sys.stderr)
        return err.code
    except Exception as exc:  # last resort: a clear line instead of a traceback (AGENT_DEBUG=1 shows it)
        if os.environ.get("AGENT_DEBUG"):
            raise
        err = CliError(type(exc).__name__, str(exc) or repr(exc), EXIT_FAILED)
        if as_json:
            print(json.dumps({"error": {"type": err.kind, "message": err.message}, "exit_code": err.code}))
        else:
            print(f"error ({err.kind}): {err.message}", file=sys.stderr)
        return err.code
    except KeyboardInterrupt:
        print("interrupted; the run goes on in Temporal (see `starter.py status ID`)", file=sys.stderr)
        return EXIT_FAILED
    if as_json:
        print(json.dumps(data, default=str))
    else:
        _print_text(args.command, data)
    return int(code)
