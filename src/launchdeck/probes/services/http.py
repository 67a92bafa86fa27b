"""Service health over HTTP and TCP: expected status, body checks, latency; one fresh connection a poll."""

from __future__ import annotations

import asyncio
import errno
import json
import socket
import time
from functools import lru_cache
from typing import Any

from launchdeck.core.config import HttpService, TcpService
from launchdeck.core.model import Outcome, Status
from launchdeck.core.redact import redact_url
from launchdeck.core.units import format_latency

PANEL = "services"


class ServiceProbe:
    """What every Services-panel probe shares: its spec, target name, timeout and poll interval."""

    panel = PANEL
    measures_latency = True  # the engine re-takes a sample timed across its own stall

    def __init__(self, spec, default_interval: float) -> None:
        self.spec = spec
        self.target = spec.name
        self.timeout = spec.timeout
        self.interval = spec.interval or default_interval

    async def aclose(self) -> None:
        """Nothing is kept open between polls unless a probe says otherwise."""
BODY_LIMIT = 1 << 20  # a health body past 1 MiB is not a health body; never buffer more than this
_SHOWN = 60  # characters of a JSON value quoted in a reason


def describe_connect_error(error: BaseException) -> str:
    """A short reason for a failed connection, from the innermost OSError when there is one."""
    inner: BaseException | None = error
    # httpx wraps anyio's "All connection attempts failed", which wraps the errno-carrying error
    while inner is not None and not (isinstance(inner, OSError) and inner.errno is not None):
        inner = inner.__cause__ or inner.__context__
    if isinstance(inner, socket.gaierror):
        return "DNS lookup failed"
    if isinstance(inner, OSError) and inner.errno is not None:
        known = {
            errno.ECONNREFUSED: "connection refused",
            errno.EHOSTUNREACH: "host unreachable",
            errno.ENETUNREACH: "network unreachable",
            errno.ECONNRESET: "connection reset",
        }
        if inner.errno in known:
            return known[inner.errno]
        return (inner.strerror or str(inner)).lower()
    text = str(error)
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "DNS lookup failed"
    return text or type(error).__name__


def judge_latency(latency: float, warn: float, crit: float) -> tuple[Status, str]:
    """The latency verdict shared by every service probe: (status, reason), reason empty when ok.

    The reason names the threshold, not the measurement: the latency has its own column on the
    dashboard and in `check`, and a reason that changed every poll would repaint its row every poll."""
    if latency >= crit:
        return Status.CRIT, f"slow (≥ {format_latency(crit)})"
    if latency >= warn:
        return Status.WARN, f"slow (≥ {format_latency(warn)})"
    return Status.OK, ""


def _shown(value: Any) -> str:
    """A JSON value as it would appear in the body, cut short enough for one table cell."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= _SHOWN else text[:_SHOWN - 1] + "…"


def _json_equal(found: Any, expected: Any) -> bool:
    """JSON equality without Python's True == 1: a boolean only equals a boolean."""
    if isinstance(found, bool) or isinstance(expected, bool):
        return type(found) is type(expected) and found == expected
    if isinstance(found, (int, float)) and isinstance(expected, (int, float)):
        return found == expected
    return type(found) is type(expected) and found == expected


_MISSING = object()


def _lookup(document: Any, path: str) -> Any:
    """Follow a dotted path ("checks.db", "items.0.state") into parsed JSON; _MISSING if absent."""
    node = document
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


@lru_cache(maxsize=2)
def _ssl_context(verify: bool) -> Any:
    """One SSL context per verify mode for all probes: building one blocks the loop ~40 ms, and
    while it does, every other probe's latency clock is running."""
    import httpx

    return httpx.create_ssl_context(verify=verify)


class HttpProbe(ServiceProbe):
    """GET (or HEAD/POST) a health URL; status not expected or body check failed → crit; slow → warn/crit."""

    def __init__(self, spec: HttpService, default_interval: float) -> None:
        super().__init__(spec, default_interval)
        self.display_url = redact_url(spec.url)
        self._client: Any = None
        self._lean: tuple[Any, Any] | None = None  # (LeanTransport, the prepared httpx.Request) for plain http://

    @property
    def wants_body(self) -> bool:
        spec = self.spec
        return spec.body_contains is not None or spec.json_field is not None or spec.json_equals is not None

    def _make_client(self) -> Any:
        import httpx

        from launchdeck.probes.services import lean_http

        # No keep-alive: every poll opens a connection, as a user's browser would, so a server
        # that stopped accepting connections cannot hide behind an old one.
        if lean_http.suits(self.spec.url):
            transport = lean_http.LeanTransport(BODY_LIMIT)
            client = httpx.AsyncClient(transport=transport, timeout=self.timeout, headers=self.spec.headers,
                                       follow_redirects=False)
            # The request is the client's own (its default and configured headers), built once: every
            # poll sends the same one straight to the transport, without the client's per-request
            # merging, auth, redirect and cookie steps (a health check keeps no cookies between polls).
            self._lean = (transport, client.build_request(self.spec.method, self.spec.url))
            return client
        return httpx.AsyncClient(
            verify=_ssl_context(self.spec.verify_tls),
            timeout=self.timeout,
            headers=self.spec.headers,
            follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def prepare(self) -> None:
        """Import httpx and build the client (and its SSL context, ~40 ms) before any latency is timed."""
        if self._client is None:
            self._client = self._make_client()

    async def collect(self) -> Outcome:
        import httpx

        await self.prepare()
        started = time.perf_counter()
        try:
            if self._lean is not None:  # no timeout of its own: the engine's covers the whole collect
                transport, request = self._lean
                response = await transport.handle_async_request(request)
                body = await self._read_body(response)
            else:
                async with self._client.stream(self.spec.method, self.spec.url) as response:
                    body = await self._read_body(response)  # latency covers the whole answer, as before
        except httpx.TimeoutException:
            raise TimeoutError from None  # the engine words it: "timeout after 2s"
        except httpx.ConnectError as error:
            return Outcome(Status.CRIT, describe_connect_error(error), {"url": self.display_url})
        except httpx.HTTPError as error:
            return Outcome(Status.CRIT, f"{type(error).__name__}: {describe_connect_error(error)}",
                           {"url": self.display_url})
        latency = time.perf_counter() - started
        return self.judge(response.status_code, latency, body)

    @staticmethod
    async def _read_body(response: Any) -> bytes:
        """At most BODY_LIMIT bytes: a runaway endpoint must not fill the dashboard's memory."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= BODY_LIMIT:
                break
        return b"".join(chunks)[:BODY_LIMIT]

    def judge(self, status_code: int, latency: float, body: bytes | None = None) -> Outcome:
        values = {"url": self.display_url, "http_status": status_code, "latency_seconds": round(latency, 6)}
        expected = self.spec.expect_status
        if status_code not in expected:
            want = "/".join(str(code) for code in expected)
            return Outcome(Status.CRIT, f"HTTP {status_code}, expected {want}", values)
        problem = self.check_body(body or b"") if self.wants_body else None
        if problem:
            return Outcome(Status.CRIT, problem, values)
        status, reason = judge_latency(latency, self.spec.latency_warn, self.spec.latency_crit)
        return Outcome(status, reason or f"HTTP {status_code} in {format_latency(latency)}", values)

    def check_body(self, body: bytes) -> str | None:
        """What is wrong with the body (a crit reason), or None when every configured check passes."""
        spec = self.spec
        if spec.body_contains is not None and spec.body_contains not in body.decode("utf-8", "replace"):
            return f"body lacks {spec.body_contains!r}"
        if spec.json_field is None:  # config.py rejects json_equals without json_field
            return None
        try:
            document = json.loads(body)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
            return "body is not JSON"
        found = _lookup(document, spec.json_field)
        if found is _MISSING:
            return f"{spec.json_field} missing from JSON body"
        if spec.json_equals is not None and not _json_equal(found, spec.json_equals):
            return f"{spec.json_field} is {_shown(found)}, expected {_shown(spec.json_equals)}"
        return None

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client, self._lean = self._client, None, None
            await client.aclose()


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class TcpProbe(ServiceProbe):
    """Open a TCP connection and close it: the port accepts → ok; refused → crit; slow connect → warn/crit."""

    def __init__(self, spec: TcpService, default_interval: float) -> None:
        super().__init__(spec, default_interval)
        self.address = _address(spec.host, spec.port)

    async def collect(self) -> Outcome:
        started = time.perf_counter()
        try:
            _reader, writer = await asyncio.open_connection(self.spec.host, self.spec.port)
        except OSError as error:  # refused, unreachable, DNS: all facts about the target
            return Outcome(Status.CRIT, describe_connect_error(error), {"address": self.address})
        latency = time.perf_counter() - started
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:  # a reset while closing says nothing about whether the port accepts
            writer.transport.abort()
        return self.judge(latency)

    def judge(self, latency: float) -> Outcome:
        values = {"address": self.address, "latency_seconds": round(latency, 6)}
        status, reason = judge_latency(latency, self.spec.latency_warn, self.spec.latency_crit)
        return Outcome(status, reason or f"connected in {format_latency(latency)}", values)
