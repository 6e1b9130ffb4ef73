"""`python -m cli.codec_server --port 8081`: the Temporal codec-server protocol over the history codec.

POST /encode and /decode (also under /{namespace}/...) take and return `{"payloads": [...]}` in
proto3 JSON, which is what the Temporal Web UI and `temporal --codec-endpoint` send. Keys come from
AGENT_CODEC_KEYS, as for the worker. Bind it to localhost: whoever reaches it can read histories.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from core.codec import CodecError, codec_from_env
from core.config import ConfigError

DEFAULT_ORIGIN = "http://localhost:8233"
MAX_BODY_BYTES = 8 * 1024 * 1024


async def transcode(codec: PayloadCodec, action: str, body: bytes) -> dict[str, Any]:
    """Run one request body through the codec; `action` is "encode" or "decode"."""
    payloads = json_format.Parse(body, Payloads())
    items = list(payloads.payloads)
    done = await (codec.encode(items) if action == "encode" else codec.decode(items))
    return json_format.MessageToDict(Payloads(payloads=done))


def make_handler(codec: PayloadCodec, origins: frozenset[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "agent-codec/1"

        def do_OPTIONS(self) -> None:
            self._reply(HTTPStatus.OK, None)

        def do_POST(self) -> None:
            action = self.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
            if action not in ("encode", "decode"):
                self._reply(HTTPStatus.NOT_FOUND, {"error": f"no route {self.path}"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_BODY_BYTES:
                self._reply(HTTPStatus.BAD_REQUEST, {"error": f"body must be 1..{MAX_BODY_BYTES} bytes"})
                return
            try:
                result = asyncio.run(transcode(codec, action, self.rfile.read(length)))
            except (json_format.ParseError, CodecError, ValueError) as exc:
                self._reply(HTTPStatus.BAD_REQUEST, {"error": f"{type(exc).__name__}: {exc}"})
                return
            self._reply(HTTPStatus.OK, result)

        def _reply(self, status: HTTPStatus, body: dict[str, Any] | None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            origin = self.headers.get("Origin")
            if origin in origins:
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Access-Control-Allow-Credentials", "true")
                self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
                self.send_header("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
                self.send_header("Vary", "Origin")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # request lines only repeat the path; payloads must never reach a log

    return Handler


def serve(codec: PayloadCodec, host: str, port: int, origins: frozenset[str]) -> ThreadingHTTPServer:
    """A server ready to `serve_forever()` (port 0 picks a free one: see `server_address`)."""
    return ThreadingHTTPServer((host, port), make_handler(codec, origins))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cli.codec_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--origin", action="append", help=f"allowed CORS origin (default {DEFAULT_ORIGIN})")
    args = parser.parse_args(argv)
    try:
        codec = codec_from_env()
    except ConfigError as exc:
        parser.exit(2, f"codec server: {exc}\n")
    if codec is None:
        parser.exit(2, "codec server: AGENT_CODEC_KEYS is not set; nothing to decode with\n")
    server = serve(codec, args.host, args.port, frozenset(args.origin or [DEFAULT_ORIGIN]))
    print(f"codec server on http://{args.host}:{server.server_address[1]} (keys: {', '.join(codec.key_ids)})")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
