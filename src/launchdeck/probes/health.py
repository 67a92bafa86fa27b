"""Service health over HTTP: expected status and latency thresholds, one fresh connection a poll."""

from __future__ import annotations

import errno
import time
from functools import lru_cache
from typing import Any

from ..config import HttpService
from ..model import Outcome, Status
from ..redact import redact_url
from ..units import format_latency

PANEL = "services"


def describe_connect_error(error: BaseException) -> str:
    """A short reason for a failed connection, from the innermost OSError when there is one."""
    inner: BaseException | None = error
    # httpx wraps anyio's "All connection attempts failed", which wraps the errno-carrying error
    while inner is not None and not (isinstance(inner, OSError) and inner.errno is not None):
        inner = inner.__cause__ or inner.__context__
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


@lru_cache(maxsize=2)
def _ssl_context(verify: bool) -> Any:
    """One SSL context per verify mode for all probes: building one blocks the loop ~40 ms, and
    while it does, every other probe's latency clock is running."""
    import httpx

    return httpx.create_ssl_context(verify=verify)


class HttpProbe:
    """GET (or HEAD/POST) a health URL; status not expected → crit; slow → warn/crit."""

    panel = PANEL

    def __init__(self, spec: HttpService, default_interval: float) -> None:
        self.spec = spec
        self.target = spec.name
        self.timeout = spec.timeout
        self.interval = spec.interval or default_interval
        self.display_url = redact_url(spec.url)
        self._client: Any = None

    def _make_client(self) -> Any:
        import httpx

        # No keep-alive: every poll opens a connection, as a user's browser would, so a server
        # that stopped accepting connections cannot hide behind an old one.
        return httpx.AsyncClient(
            verify=_ssl_context(self.spec.verify_tls),
            timeout=self.timeout,
            headers=self.spec.headers,
            follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def collect(self) -> Outcome:
        import httpx

        if self._client is None:
            self._client = self._make_client()
        started = time.perf_counter()
        try:
            response = await self._client.request(self.spec.method, self.spec.url)
        except httpx.TimeoutException:
            raise TimeoutError from None  # the engine words it: "timeout after 2s"
        except httpx.ConnectError as error:
            return Outcome(Status.CRIT, describe_connect_error(error), {"url": self.display_url})
        except httpx.HTTPError as error:
            return Outcome(Status.CRIT, f"{type(error).__name__}: {describe_connect_error(error)}",
                           {"url": self.display_url})
        latency = time.perf_counter() - started
        return self.judge(response.status_code, latency)

    def judge(self, status_code: int, latency: float) -> Outcome:
        values = {"url": self.display_url, "http_status": status_code, "latency_seconds": round(latency, 6)}
        expected = self.spec.expect_status
        if status_code not in expected:
            want = "/".join(str(code) for code in expected)
            return Outcome(Status.CRIT, f"HTTP {status_code}, expected {want}", values)
        shown = format_latency(latency)
        if latency >= self.spec.latency_crit:
            return Outcome(Status.CRIT, f"slow: {shown} ≥ {format_latency(self.spec.latency_crit)}", values)
        if latency >= self.spec.latency_warn:
            return Outcome(Status.WARN, f"slow: {shown} ≥ {format_latency(self.spec.latency_warn)}", values)
        return Outcome(Status.OK, f"HTTP {status_code} in {shown}", values)

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
