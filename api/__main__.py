"""`python -m api serve` runs the API; `python -m api token mint|revoke` manages its bearer tokens.

Environment: AGENT_API_PORT (8000), AGENT_API_HOST (127.0.0.1), AGENT_API_TOKENS (the token
database; default $AGENT_DATA_DIR/api.db), and the client's settings (core/config.py, core/client.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import uvicorn

from api.app import create_app
from api.service import Service
from api.tokens import TokenStore
from client import AgentClient
from core.client import connect
from core.config import ConfigError, Settings
from core.errors import InvalidInputError
from core.logging import configure_logging
from worker import served_agents

DEFAULT_PORT = 8000


def token_store(settings: Settings) -> TokenStore:
    return TokenStore(Path(os.environ.get("AGENT_API_TOKENS") or settings.data_dir / "api.db"))


async def serve(settings: Settings, host: str, port: int) -> None:
    agents = {agent.name: agent for agent in served_agents()}
    client = await connect(settings)
    service = Service(
        AgentClient(client, settings.task_queue), token_store(settings), agents, settings.ui_url,
        settings.namespace,
    )  # fmt: skip
    config = uvicorn.Config(create_app(service), host=host, port=port, log_level="warning")
    print(f"API on http://{host}:{port} (OpenAPI: http://{host}:{port}/docs)", flush=True)
    await uvicorn.Server(config).serve()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m api", description="The HTTP API and its tokens")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_cmd = sub.add_parser("serve", help="run the API")
    serve_cmd.add_argument("--host", default=os.environ.get("AGENT_API_HOST", "127.0.0.1"))
    serve_cmd.add_argument("--port", type=int, default=int(os.environ.get("AGENT_API_PORT", DEFAULT_PORT)))
    token = sub.add_parser("token", help="mint or revoke a bearer token").add_subparsers(
        dest="action", required=True
    )
    mint = token.add_parser("mint", help="a new token; printed once, stored hashed")
    mint.add_argument("identity", help="who holds it: recorded as the approver of what they decide")
    mint.add_argument("--role", action="append", default=[], help="approver, supervisor, … (repeatable)")
    mint.add_argument("--quiet", action="store_true", help="print the token alone")
    revoke = token.add_parser("revoke", help="revoke a token by its id (or the token itself)")
    revoke.add_argument("token_id")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings.from_env()
    if args.command == "serve":
        configure_logging()
        asyncio.run(serve(settings, args.host, args.port))
        return 0
    store = token_store(settings)
    if args.action == "mint":
        token_id, token = store.mint(args.identity, args.role)
        roles = ",".join(sorted(set(args.role))) or "-"
        print(token if args.quiet else f"token id {token_id} for {args.identity} (roles {roles}):\n{token}")
        return 0
    if store.revoke(args.token_id):
        print(f"revoked {args.token_id}")
        return 0
    print(f"no live token {args.token_id}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ConfigError, InvalidInputError) as exc:
        print(f"api: {exc}", file=sys.stderr)
        sys.exit(2)
