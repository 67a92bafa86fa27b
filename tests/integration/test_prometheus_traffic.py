"""PrometheusTrafficProbe against a real Prometheus scraping a test exporter the test drives.

The exporter (prometheus_client, its own registry) counts http_requests_total{code} and observes
http_request_duration_seconds from a background thread at a rate, error ratio and latency
distribution the test chooses. launchdeck's numbers must equal Prometheus' own answer to the same
PromQL at the same evaluation time, and be near the exporter's true settings.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import httpx
import pytest

from launchdeck.core.config import PrometheusConfig, TrafficConfig
from launchdeck.core.model import FixedClock, Status, SystemClock
from launchdeck.engine.polling import collect_once
from launchdeck.probes.traffic.prometheus import PrometheusError, PrometheusTrafficProbe

from .conftest import free_port

pytestmark = pytest.mark.integration

GOLDEN = 0.6180339887498949  # low-discrepancy sequence: any stretch of requests has the set mix
BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 1.0, 2.5)


def uniform(low: float, high: float) -> Callable[[float], float]:
    """Latency quantile function: uniform between low and high (p95 = low + 0.95 (high - low))."""
    return lambda u: low + u * (high - low)


class TrafficExporter:
    """A /metrics endpoint whose traffic a test controls; counts are exact, not random."""

    def __init__(self, rps: float = 200.0, error_ratio: float = 0.03, not_found_ratio: float = 0.02,
                 latency: Callable[[float], float] = uniform(0.05, 0.45)) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

        self.rps, self.error_ratio, self.not_found_ratio, self.latency = rps, error_ratio, not_found_ratio, latency
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests", "Requests by status code", ["code"], registry=self.registry)
        self.requests.labels(code="200")  # the series exists before any traffic; 5xx only once one happens
        self.duration = Histogram("http_request_duration_seconds", "Request latency", buckets=BUCKETS,
                                  registry=self.registry)
        self.port = free_port()
        self.server, self.server_thread = start_http_server(self.port, addr="127.0.0.1", registry=self.registry)
        self.target = f"127.0.0.1:{self.port}"
        self.served = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> TrafficExporter:
        self._thread = threading.Thread(target=self._drive, name="traffic", daemon=True)
        self._thread.start()
        return self

    def _drive(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(0.01):
            due = int((time.monotonic() - started) * self.rps)
            while self.served < due:
                self.serve_one()

    def serve_one(self) -> None:
        i = self.served
        self.served += 1
        if math.floor((i + 1) * self.error_ratio) > math.floor(i * self.error_ratio):
            code = "500"
        elif math.floor((i + 1) * self.not_found_ratio) > math.floor(i * self.not_found_ratio):
            code = "404"  # 4xx are the client's fault: not in the error ratio
        else:
            code = "200"
        self.requests.labels(code=code).inc()
        self.duration.observe(self.latency((i * GOLDEN) % 1.0))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def exporter() -> Any:
    made: list[TrafficExporter] = []

    def make(**settings: Any) -> TrafficExporter:
        made.append(TrafficExporter(**settings))
        return made[-1]

    yield make
    for one in made:
        one.stop()


def prom_query(base_url: str, query: str, at: str) -> dict[str, Any]:
    """Prometheus' own answer, asked directly (not through prometheus-api-client)."""
    response = httpx.get(f"{base_url}/api/v1/query", params={"query": query, "time": at}, timeout=5)
    return response.json()


def prom_value(base_url: str, query: str, at: str) -> float | None:
    body = prom_query(base_url, query, at)
    assert body["status"] == "success", body
    result = body["data"]["result"]
    assert len(result) <= 1, result
    if not result or result[0]["value"][1] in ("NaN", "+Inf", "-Inf"):
        return None
    return float(result[0]["value"][1])


def wait_for_scrapes(base_url: str, job: str, count: int, timeout: float = 60.0) -> None:
    """Poll until Prometheus holds `count` scrapes of the job (the first comes ~5 s after start)."""
    deadline = time.monotonic() + timeout
    query = f'count_over_time(up{{job="{job}"}}[1m])'
    while True:
        now = f"{time.time():.3f}"
        seen = prom_value(base_url, query, now) or 0
        if seen >= count:
            return
        assert time.monotonic() < deadline, f"only {seen} scrapes of {job} after {timeout:.0f}s"
        time.sleep(0.25)


class RecordingClock(SystemClock):
    """The real clock, remembering the last instant handed out (the probe's evaluation time)."""

    last: datetime | None = None

    def now(self) -> datetime:
        self.last = super().now()
        return self.last


def traffic(name: str = "app", **settings: Any) -> TrafficConfig:
    settings.setdefault("window", "30s")
    return TrafficConfig(name=name, **settings)


def relative(a: float, b: float) -> float:
    return abs(a - b) / abs(b) if b else abs(a - b)


WINDOW = 30.0  # spec.window: [30s]
CALM = {"error_ratio_warn": "10%", "error_ratio_crit": "20%", "p95_warn": "1s", "p95_crit": "2s"}


async def test_launchdeck_agrees_with_prometheus_at_the_same_instant(prometheus_factory, exporter):
    # p95 of uniform(0.1, 0.5) is 0.48: between the 0.4 and 0.5 buckets, and the histogram's
    # linear interpolation is exact for it (both ends are bucket bounds)
    source = exporter(rps=200, error_ratio=0.03, latency=uniform(0.1, 0.5)).start()
    base_url = prometheus_factory([source.target])
    wait_for_scrapes(base_url, "app", int(WINDOW) + 1)  # a full [30s] window: rate() is not extrapolated
    prom = PrometheusConfig(url=base_url)

    fixed = FixedClock(at=datetime.now(timezone.utc) - timedelta(seconds=1))  # all its samples are in
    recording = RecordingClock()
    pinned, live = (PrometheusTrafficProbe(traffic(**CALM), prom, 5.0, clock) for clock in (fixed, recording))
    ungrouped = PrometheusTrafficProbe(traffic(rate='rate(http_requests_total{job="app"}[30s])'), prom, 5.0)
    try:
        for label, probe, clock_now in (("pinned", pinned, fixed.now), ("live", live, lambda: recording.last)):
            reading = await collect_once(probe)
            at = f"{clock_now().timestamp():.3f}"
            theirs = {name: prom_value(base_url, probe.queries[key], at)
                      for key, name in (("error_ratio", "error_ratio"), ("p95", "p95_seconds"), ("rate", "rate_rps"))}
            ours = {name: reading.values[name] for name in theirs}
            print(f"\n{label} at {at}: launchdeck {ours}\n{'':>{len(label) + 18}}prometheus {theirs}; "
                  f"collect {reading.duration * 1000:.1f} ms")
            assert reading.status is Status.OK, reading.reason
            for name in theirs:
                assert relative(ours[name], theirs[name]) <= 0.005, (label, name, ours[name], theirs[name])
            # ... and near what the exporter really does
            assert ours["error_ratio"] == pytest.approx(0.03, abs=0.002)
            assert ours["p95_seconds"] == pytest.approx(0.48, abs=0.01)
            assert ours["rate_rps"] == pytest.approx(200, rel=0.05)

        points = await live.history(120)  # the app's sparkline backfill: step 2s
        refused = await collect_once(ungrouped)
        with pytest.raises(PrometheusError, match="query returned 3 series"):
            await ungrouped.history(120)
    finally:
        for probe in (pinned, live, ungrouped):
            await probe.aclose()
    print(f"history: {len(points)} points, first {points[0]}, last {points[-1]}")
    assert len(points) == 61
    assert [at for at, _ in points] == sorted(at for at, _ in points)
    assert all(set(values) == {"error_ratio", "p95_seconds", "rate_rps"} for _, values in points)
    assert points[0][1]["rate_rps"] is None  # 2 minutes ago Prometheus was not running: a gap, not zero
    latest = points[-1][1]
    assert latest["error_ratio"] == pytest.approx(0.03, abs=0.002)
    assert latest["p95_seconds"] == pytest.approx(0.48, abs=0.01)
    assert latest["rate_rps"] == pytest.approx(200, rel=0.05)
    assert refused.status is Status.UNKNOWN  # one series per code: refused, never silently summed
    assert refused.reason == "query returned 3 series; aggregate it with sum() (rate query)"


async def test_bad_promql_is_unknown_with_prometheus_error_type(prometheus_factory, exporter):
    base_url = prometheus_factory([exporter().target])
    broken = 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="app"[30s])))'
    probe = PrometheusTrafficProbe(traffic(p95=broken), PrometheusConfig(url=base_url), 5.0)
    try:
        reading = await collect_once(probe)
    finally:
        await probe.aclose()
    body = prom_query(base_url, broken, f"{time.time():.3f}")
    assert body["errorType"] == "bad_data"
    assert reading.status is Status.UNKNOWN
    assert reading.reason == f"bad_data: {body['error']} (p95 query)"
    assert "parse error" in reading.reason


async def test_no_traffic_is_no_data_never_zero_percent(prometheus_factory, exporter):
    idle = exporter()  # series exist, nothing is served
    base_url = prometheus_factory([idle.target])
    wait_for_scrapes(base_url, "app", 3)
    prom = PrometheusConfig(url=base_url)
    for spec, rate in ((traffic("app"), 0.0), (traffic("ghost"), None)):  # ghost: no such job at all
        probe = PrometheusTrafficProbe(spec, prom, 5.0)
        try:
            reading = await collect_once(probe)
        finally:
            await probe.aclose()
        assert reading.status is Status.WARN, reading.reason
        assert reading.reason == "no traffic in the last 30s"
        assert reading.values["error_ratio"] is None and reading.values["p95_seconds"] is None
        assert reading.values["rate_rps"] == rate


async def test_prometheus_down_is_unknown_quickly():
    probe = PrometheusTrafficProbe(traffic(), PrometheusConfig(url=f"http://127.0.0.1:{free_port()}"), 5.0)
    started = time.monotonic()
    try:
        reading = await collect_once(probe)
    finally:
        await probe.aclose()
    assert time.monotonic() - started < 1.0
    assert (reading.status, reading.reason) == (Status.UNKNOWN, "prometheus unreachable: connection refused")
