"""A lean httpx transport for plain-HTTP health checks: one HTTP/1.1 request on a fresh connection.

Why: through the HTTP probe, httpx's default transport (httpcore over anyio) costs ~2.0 ms of
CPU per request on a fresh connection here, this one ~0.9 ms (bench/http_cost.py). With 200 targets
on one loop that CPU is charged to every request in flight. httpx stays the client: requests, responses, headers
and content decoding are its own; only the wire is ours. The HTTP probe builds its request once with the
client and sends it straight to this transport each poll (issue 14: another ~30 % less CPU per request
than through AsyncClient.stream, measured side by side in bench/http_cost.py). https:// URLs, and any URL while a proxy
is set in the environment, keep httpx's default transport.

Every poll opens a new connection and closes it (`Connection: close`), as a browser's first visit
would: a server that stopped accepting connections cannot hide behind a kept-alive one.
"""

from __future__ import annotations

import asyncio
import os
import socket

import httpx

HEADER_LIMIT = 64 * 1024  # bytes of status line + headers; a health endpoint's are a few hundred
NO_BODY = {204, 304}
PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")


def suits(url: str) -> bool:
    """The lean path takes plain http:// without a proxy in the environment."""
    return url.lower().startswith("http://") and not any(os.environ.get(v) for v in PROXY_VARIABLES)


class LeanTransport(httpx.AsyncBaseTransport):
    def __init__(self, body_limit: int) -> None:
        self.body_limit = body_limit

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        try:
            reader, writer = await asyncio.open_connection(url.host, url.port or 80, limit=HEADER_LIMIT)
        except OSError as error:  # refused, unreachable, DNS: the probe words it from the errno
            raise httpx.ConnectError(str(error) or type(error).__name__, request=request) from error
        try:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            writer.write(self._head(request) + await request.aread())
            status, headers = await self._read_head(reader, request)
            body = await self._read_body(reader, request, status, headers)
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            raise httpx.ReadError(f"connection closed mid-answer: {error}", request=request) from error
        except (ValueError, asyncio.LimitOverrunError) as error:
            raise httpx.RemoteProtocolError(f"malformed HTTP answer: {error}", request=request) from error
        finally:
            writer.close()
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body), request=request,
                              extensions={"http_version": b"HTTP/1.1"})

    @staticmethod
    def _head(request: httpx.Request) -> bytes:
        lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
        for name, value in request.headers.raw:
            if name.lower() != b"connection":
                lines.append(name + b": " + value)
        lines.append(b"Connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n"

    @staticmethod
    async def _read_head(reader: asyncio.StreamReader, request: httpx.Request) -> tuple[int, list]:
        status_line, *lines = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        version, _, rest = status_line.decode("latin-1").strip().partition(" ")
        if not version.startswith("HTTP/") or not rest[:3].isdigit():
            raise ValueError(f"status line {status_line[:60]!r}")
        headers = []
        for line in lines:
            if line:
                name, colon, value = line.partition(b":")
                if not colon:
                    raise ValueError(f"header line {line[:60]!r}")
                headers.append((name.strip(), value.strip()))
        return int(rest[:3]), headers

    async def _read_body(self, reader: asyncio.StreamReader, request: httpx.Request, status: int,
                         headers: list) -> bytes:
        if request.method == "HEAD" or status in NO_BODY or 100 <= status < 200:
            return b""
        fields = {name.lower(): value for name, value in headers}
        if b"chunked" in fields.get(b"transfer-encoding", b"").lower():
            return await self._read_chunked(reader)
        if b"content-length" in fields:
            length = int(fields[b"content-length"])
            return await reader.readexactly(min(length, self.body_limit))
        body = bytearray()  # until the server closes (HTTP/1.0 style)
        while len(body) < self.body_limit and (data := await reader.read(self.body_limit - len(body))):
            body += data
        return bytes(body)

    async def _read_chunked(self, reader: asyncio.StreamReader) -> bytes:
        body = bytearray()
        while len(body) < self.body_limit:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                break
            body += await reader.readexactly(size)
            await reader.readexactly(2)
        return bytes(body[:self.body_limit])

