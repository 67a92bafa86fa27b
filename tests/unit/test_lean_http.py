"""The lean plain-HTTP transport against a loopback server that answers exactly the bytes a test gives."""

from __future__ import annotations

import asyncio
import errno
import gzip

import httpx
import pytest

from launchdeck.core.config import parse_config
from launchdeck.core.model import Status
from launchdeck.probes.services.http import HttpProbe, describe_connect_error
from launchdeck.probes.services.lean_http import LeanTransport, suits


async def serve(answer: bytes):
    """A server that reads one request head, records it, writes `answer` and closes."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", seen


async def fetch(answer: bytes, method: str = "GET", limit: int = 1 << 20, path: str = "/health?x=1"):
    server, base, seen = await serve(answer)
    async with server, httpx.AsyncClient(transport=LeanTransport(limit)) as client:
        response = await client.request(method, base + path)
        return response, seen


@pytest.mark.parametrize("answer, body", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", b"ok"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", b"abcde"),
    (b"HTTP/1.0 200 OK\r\n\r\nuntil the server closes", b"until the server closes"),
    (b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", b""),
    (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s"
     % (len(gzip.compress(b'{"ok": true}')), gzip.compress(b'{"ok": true}')), b'{"ok": true}'),
])
async def test_bodies_by_length_chunks_close_and_encoding(answer, body):
    response, seen = await fetch(answer)
    assert response.content == body
    head = seen[0].decode()
    assert head.startswith("GET /health?x=1 HTTP/1.1\r\n") and "Connection: close" in head
    assert "host: 127.0.0.1:" in head.lower()


async def test_head_has_no_body_and_the_body_limit_holds():
    response, _ = await fetch(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", method="HEAD")
    assert response.status_code == 200 and response.content == b""
    response, _ = await fetch(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", limit=4)
    assert response.content == b"0123"
    response, _ = await fetch(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 100, limit=7)
    assert response.content == b"x" * 7


@pytest.mark.parametrize("answer, error", [
    (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", httpx.RemoteProtocolError),
    (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", httpx.RemoteProtocolError),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", httpx.ReadError),
    (b"HTTP/1.1 200 OK\r\nContent-Len", httpx.ReadError),  # closed inside the head
])
async def test_malformed_or_cut_answers_are_httpx_errors(answer, error):
    with pytest.raises(error):
        await fetch(answer)


async def test_a_refused_connection_keeps_its_errno_for_the_reason():
    server, base, _ = await serve(b"")
    server.close()
    await server.wait_closed()
    async with httpx.AsyncClient(transport=LeanTransport(1024)) as client:
        with pytest.raises(httpx.ConnectError) as caught:
            await client.get(base + "/health")
    assert isinstance(caught.value.__cause__, OSError) and caught.value.__cause__.errno == errno.ECONNREFUSED
    assert describe_connect_error(caught.value) == "connection refused"


async def test_the_http_probe_takes_the_lean_path_for_plain_http_and_judges_the_body(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    body = b'{"checks": {"db": "failed"}}'
    server, base, _ = await serve(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s'
                                  % (len(body), body))
    config = parse_config(f'[[services]]\nname = "api"\nurl = "{base}/health"\njson_field = "checks.db"\n'
                          f'json_equals = "ok"\n', "t.toml", {})
    probe = HttpProbe(config.services[0], 5.0)
    async with server:
        await probe.prepare()
        assert isinstance(probe._lean[0], LeanTransport)
        outcome = await probe.collect()
        await probe.aclose()
    assert outcome.status is Status.CRIT and "checks.db is" in outcome.reason


async def test_the_prepared_request_carries_the_clients_headers_and_is_sent_again_each_poll(monkeypatch):
    """The lean path sends one request built once by the client: its default and configured headers
    go out on every poll, on a fresh connection each time, and a cookie set by the target is not sent back."""
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server, base, seen = await serve(b"HTTP/1.1 200 OK\r\nSet-Cookie: s=1\r\nContent-Length: 2\r\n\r\nok")
    config = parse_config(f'[[services]]\nname = "api"\nurl = "{base}/health?x=1"\n'
                          f'headers = {{ "X-Deck" = "launch" }}\n', "t.toml", {})
    probe = HttpProbe(config.services[0], 5.0)
    async with server:
        outcomes = [await probe.collect() for _ in range(3)]
        await probe.aclose()
    assert [o.status for o in outcomes] == [Status.OK] * 3 and outcomes[-1].values["http_status"] == 200
    assert len(seen) == 3  # one connection per poll: the server closes each after answering
    for head in seen:
        lines = head.decode().lower().split("\r\n")
        assert lines[0] == "get /health?x=1 http/1.1"
        assert "x-deck: launch" in lines and "connection: close" in lines and any(l.startswith("host: ") for l in lines)
        assert not any(l.startswith("cookie:") for l in lines)


def test_https_and_proxied_urls_keep_the_default_transport(monkeypatch):
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    monkeypatch.delenv("ALL_PROXY", raising=False)
    assert suits("http://127.0.0.1/health") and suits("HTTP://x/")
    assert not suits("https://127.0.0.1/health")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy:3128")
    assert not suits("http://127.0.0.1/health")
