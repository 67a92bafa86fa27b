"""Scrape mode computes what a real Prometheus answers, from the same exporter at the same time.

One prometheus_client exporter; a thread here generates its traffic (200 req/s, every 25th a 500,
a fixed latency cycle whose p95 falls inside the (0.25, 0.5] bucket). A real Prometheus and
launchdeck's ScrapeTrafficProbe both scrape it every second; launchdeck's error ratio and p95 at
each of its scrapes are compared with Prometheus' answer to the same PromQL at that instant.
Then the exporter restarts on the same port with counters from 0, and the comparison repeats
with the reset inside the window.
"""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from launchdeck.core.config import TrafficConfig
from launchdeck.core.model import Outcome
from launchdeck.probes.traffic.scrape import ScrapeTrafficProbe
from launchdeck.probes.traffic.judge import finite

pytestmark = pytest.mark.integration

RPS = 200
ERROR_EVERY = 25  # 4 % 5xx
# 20 latencies: 18 at or below 0.25 s, 2 in (0.25, 0.5]: p95 = 0.25 + 0.25 * (19 - 18) / 2 = 0.375 s
LATENCIES = [0.003] * 4 + [0.02] * 8 + [0.06] * 4 + [0.2] * 2 + [0.4] * 2
WINDOW = 30
TOLERANCE = 0.02
ERROR_RATIO = f'sum(rate(http_requests_total{{code=~"5.."}}[{WINDOW}s])) / sum(rate(http_requests_total[{WINDOW}s]))'
P95 = f"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[{WINDOW}s])))"
RATE = f"sum(rate(http_requests_total[{WINDOW}s]))"


class Exporter:
    """A service's /metrics: its own registry and HTTP server, every series present from the start."""

    def __init__(self, port: int) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests_total", "Requests served.", ["method", "code"], registry=self.registry)
        self.latency = Histogram("http_request_duration_seconds", "Request latency.", ["method"],
                                 registry=self.registry)
        for method in ("GET", "POST"):
            for code in ("200", "500"):
                self.requests.labels(method, code)
            self.latency.labels(method)
        deadline = time.monotonic() + 5
        while True:  # the previous server's socket may linger for a moment after a restart
            try:
                self.server, self.thread = start_http_server(port, addr="127.0.0.1", registry=self.registry)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def serve(self, index: int) -> None:
        method = "GET" if index % 2 else "POST"
        self.requests.labels(method, "500" if index % ERROR_EVERY == 0 else "200").inc()
        self.latency.labels(method).observe(LATENCIES[index % len(LATENCIES)])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class Traffic(threading.Thread):
    """Exactly RPS requests a second, deterministic codes and latencies, into whichever exporter is
    current; with none (the service is down), requests are dropped, never queued into a burst."""

    def __init__(self, exporter: Exporter) -> None:
        super().__init__(daemon=True, name="traffic")
        self.exporter: Exporter | None = exporter
        self.stopping = threading.Event()
        self.served = 0

    def run(self) -> None:
        started = time.monotonic()
        while not self.stopping.wait(0.005):
            due = int((time.monotonic() - started) * RPS)
            while self.served < due:
                exporter = self.exporter
                if exporter is not None:
                    exporter.serve(self.served)
                self.served += 1


async def _instant(client: httpx.AsyncClient, base: str, query: str, at: float) -> float | None:
    response = await client.get(f"{base}/api/v1/query", params={"query": query, "time": f"{at:.3f}"})
    response.raise_for_status()
    result = response.json()["data"]["result"]
    return finite(result[0]["value"][1]) if result else None


def _relative(ours: float | None, theirs: float | None) -> float:
    assert ours is not None and theirs is not None, (ours, theirs)
    return abs(ours - theirs) / abs(theirs)


async def test_scrape_mode_agrees_with_prometheus_and_survives_an_exporter_restart(prometheus_factory, free_port):
    port = free_port()
    exporter = Exporter(port)
    traffic = Traffic(exporter)
    traffic.start()
    url = f"http://127.0.0.1:{port}/metrics"
    base = prometheus_factory([f"127.0.0.1:{port}"], scrape_interval="1s")
    spec = TrafficConfig(name="app", source="scrape", scrape_url=url, window=WINDOW, interval=1)
    probe = ScrapeTrafficProbe(spec, default_interval=1.0)
    readings: list[tuple[float, Outcome]] = []  # (the probe's scrape time, its outcome)

    async def poll() -> None:
        while True:
            at = probe.now()
            readings.append((at, await probe.collect()))
            await asyncio.sleep(max(0.0, at + 1.0 - probe.now()))

    poller = asyncio.create_task(poll())
    client = httpx.AsyncClient(timeout=5)
    report: list[str] = []
    try:
        # Prometheus' first scrape comes ~5 s after start; then its data must cover a whole window
        deadline = time.monotonic() + 25
        while await _instant(client, base, 'up{job="app"}', time.time()) != 1.0:
            assert time.monotonic() < deadline, "Prometheus never scraped the exporter"
            await asyncio.sleep(0.25)
        await asyncio.sleep(WINDOW + 1.5)

        async def compare(phase: str, rounds: int) -> None:
            for _ in range(rounds):
                await asyncio.sleep(1.0)
                # a launchdeck scrape old enough that Prometheus has ingested everything up to it
                at, outcome = next((a, o) for a, o in reversed(readings) if a < time.time() - 1.5)
                theirs = {name: await _instant(client, base, query, at)
                          for name, query in (("error_ratio", ERROR_RATIO), ("p95", P95), ("rate", RATE))}
                ours = {"error_ratio": outcome.values.get("error_ratio"), "p95": outcome.values.get("p95_seconds"),
                        "rate": outcome.values.get("rate_rps")}
                diffs = {name: _relative(ours[name], theirs[name]) for name in ours}
                report.append(f"{phase}: " + ", ".join(
                    f"{n} ours={ours[n]:.5g} prometheus={theirs[n]:.5g} rel={diffs[n]:.2e}" for n in ours))
                assert diffs["error_ratio"] < TOLERANCE, report[-1]
                assert diffs["p95"] < TOLERANCE, report[-1]
                assert diffs["rate"] < TOLERANCE, report[-1]

        await compare("steady", rounds=4)
        assert readings[-1][1].values["error_ratio"] == pytest.approx(1 / ERROR_EVERY, rel=TOLERANCE)
        assert readings[-1][1].values["p95_seconds"] == pytest.approx(0.375, rel=TOLERANCE)

        # The service restarts: a fresh process on the same port, every counter from 0. It stops
        # serving 1.5 s before, so both scrapers saw its final counts: otherwise each loses the
        # requests served after its own last scrape, up to a second's worth (3 % of the window's
        # rate), depending only on scrape phase.
        traffic.exporter = None
        await asyncio.sleep(1.5)
        restarted_at = time.time()
        exporter.stop()
        traffic.exporter = exporter = Exporter(port)
        await asyncio.sleep(4.0)
        after = [o for a, o in readings if a > restarted_at]
        rates = [o.values.get("rate_rps") for o in after if o.values.get("rate_rps") is not None]
        assert len(rates) >= 3
        assert all(0 < r < 1.5 * RPS for r in rates), rates  # never negative, never the old totals as a burst
        await compare("after restart", rounds=3)  # the reset is inside every one of these windows
    finally:
        poller.cancel()
        await asyncio.gather(poller, return_exceptions=True)  # wait until it has really stopped
        await client.aclose()
        await probe.aclose()
        traffic.stopping.set()
        traffic.join(timeout=5)
        exporter.stop()
        print("\n" + "\n".join(report))
