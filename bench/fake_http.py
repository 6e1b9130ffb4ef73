"""The HTTP/1.1 the fake provider needs, on asyncio streams: one request in, one response out.

Enough for httpx and curl: Content-Length bodies, keep-alive, `Connection: close`. No chunked bodies,
no pipelining (clients of a chat-completions API send one request and wait for its answer).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from http import HTTPStatus

MAX_BODY = 8 * 1024 * 1024
MAX_HEADERS = 100


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    body: bytes = b""
    close: bool = False  # the client asked to close the connection after this answer


async def read_request(reader: asyncio.StreamReader) -> HttpRequest | None:
    """The next request on the connection; None at a clean end. ValueError for bytes that are not HTTP."""
    line = await reader.readline()
    if not line:
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1.x request line: {line[:80]!r}")
    method, target, version = parts
    headers: dict[str, str] = {}
    while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
        if len(headers) >= MAX_HEADERS:
            raise ValueError("too many headers")
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise ValueError("chunked request bodies are not supported")
    length = int(headers.get("content-length", "0"))
    if not 0 <= length <= MAX_BODY:
        raise ValueError(f"body of {length} bytes refused")
    body = await reader.readexactly(length) if length else b""
    connection = headers.get("connection", "").lower()
    close = connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")
    return HttpRequest(method.upper(), target.split("?", 1)[0], body, close)


async def write_response(
    writer: asyncio.StreamWriter, status: int, headers: dict[str, str], body: bytes
) -> None:
    reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()
