"""ScrapeTrafficProbe: Prometheus' numbers from a bare /metrics, on synthetic time and over real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from launchdeck.core.config import SloConfig, TrafficConfig
from launchdeck.core.model import FixedClock, Status
from launchdeck.probes.traffic.scrape import KEEP_SECONDS, RAW_SECONDS, THIN_STEP, History, ScrapeTrafficProbe, Snapshot
from launchdeck.probes.traffic.judge import BURN_WINDOWS

BOUNDS = ("0.1", "0.5", "+Inf")


def exposition(ok: float, errors: float, buckets: tuple[float, float, float] | None = None,
               created: float = 1.7e9, extra: str = "") -> str:
    """What prometheus_client serves: counters with their `_created` gauges, a histogram."""
    text = (
        "# HELP http_requests_total Requests.\n"
        "# TYPE http_requests_total counter\n"
        f'http_requests_total{{code="200",method="GET"}} {ok * 0.75}\n'
        f'http_requests_total{{code="200",method="POST"}} {ok * 0.25}\n'
        f'http_requests_total{{code="503",method="GET"}} {errors}\n'
        "# TYPE http_requests_created gauge\n"
        f'http_requests_created{{code="200",method="GET"}} {created}\n'
        f'http_requests_created{{code="503",method="GET"}} {created}\n'
    )
    if buckets is not None:
        text += "# TYPE http_request_duration_seconds histogram\n"
        for bound, count in zip(BOUNDS, buckets):
            text += f'http_request_duration_seconds_bucket{{le="{bound}",method="GET"}} {count}\n'
        text += f"http_request_duration_seconds_count{{method=\"GET\"}} {buckets[-1]}\n"
        text += f"http_request_duration_seconds_sum{{method=\"GET\"}} {buckets[-1] * 0.2}\n"
        text += f"http_request_duration_seconds_created{{method=\"GET\"}} {created}\n"
    return text + extra


def make_probe(window: float = 60.0, url: str = "http://127.0.0.1:9/metrics", **spec) -> tuple[ScrapeTrafficProbe, FixedClock]:
    clock = FixedClock()
    config = TrafficConfig(name="app", source="scrape", scrape_url=url, window=window, **spec)
    return ScrapeTrafficProbe(config, default_interval=5.0, clock=clock), clock


def steady(probe: ScrapeTrafficProbe, start: float, seconds: float, step: float = 5.0,
           rps: float = 10.0, error_share: float = 0.1, base: float = 0.0):
    """Feed scrapes of steady traffic; returns the last outcome and the next time."""
    outcome, t = None, start
    elapsed = 0.0
    while elapsed <= seconds:
        total = base + rps * (t - start)
        errors = total * error_share
        fast, mid = total * 0.5, total * 0.9  # half under 100 ms, 90 % under 500 ms
        outcome = probe._ingest(exposition(total - errors, errors, (fast, mid, total)), t)
        elapsed += step
        t += step
    return outcome, t


# ---------------------------------------------------------------- numbers on synthetic time


def test_first_scrape_is_unknown_while_collecting():
    probe, clock = make_probe()
    outcome = probe._ingest(exposition(100, 0, (50, 90, 100)), clock.now().timestamp())
    assert outcome.status is Status.UNKNOWN
    assert outcome.reason.startswith("collecting: 1 scrape so far")
    assert outcome.values["error_ratio"] is None and outcome.values["rate_rps"] is None


def test_steady_traffic_gives_prometheus_numbers():
    probe, clock = make_probe(window=60.0)
    outcome, _ = steady(probe, clock.now().timestamp(), 120, base=10_000)
    assert outcome.values["rate_rps"] == pytest.approx(10.0)
    assert outcome.values["error_ratio"] == pytest.approx(0.1)
    # 95th percentile falls in the +Inf bucket: the second-highest bound, as Prometheus answers
    assert outcome.values["p95_seconds"] == pytest.approx(0.5)


def test_p95_interpolates_inside_its_bucket():
    probe, clock = make_probe(window=60.0)
    t0 = clock.now().timestamp()
    for i in range(13):
        n = 1000 + 100 * i  # 20/s: 10 % under 100 ms, all under 500 ms
        outcome = probe._ingest(exposition(n, 0, (0.1 * n, n, n)), t0 + 5 * i)
    # rank 0.95 in (0.1, 0.5]: 0.1 + 0.4 * (0.95 - 0.1) / 0.9
    assert outcome.values["p95_seconds"] == pytest.approx(0.1 + 0.4 * 0.85 / 0.9)


def test_created_samples_are_ignored():
    probe, clock = make_probe(window=20.0)
    t0 = clock.now().timestamp()
    outcome = None
    for i in range(6):  # `_created` jumps wildly between scrapes (a new process each time, say)
        outcome = probe._ingest(exposition(1000 + 50 * i, 0, (1, 1, 1), created=1.7e9 + 1e6 * i), t0 + 5 * i)
    assert outcome.values["rate_rps"] == pytest.approx(10.0)


def test_counter_reset_between_scrapes_is_neither_negative_nor_huge():
    probe, clock = make_probe(window=60.0)
    t0 = clock.now().timestamp()
    outcome, t = steady(probe, t0, 60, base=1_000_000)  # a long-running process ...
    outcome, _ = steady(probe, t, 60, base=5.0)  # ... restarted: counters from ~0
    assert outcome.values["rate_rps"] == pytest.approx(10.0, rel=0.02)
    assert outcome.values["error_ratio"] == pytest.approx(0.1, rel=0.02)


def test_reset_inside_the_window_keeps_the_rate_steady():
    probe, clock = make_probe(window=60.0)
    t0 = clock.now().timestamp()
    rates = []
    for i in range(20):  # the last window, (35 s, 95 s], holds the restart at 75 s
        total = 50_000 + 50 * i if i < 15 else 50 * (i - 15) + 50  # restart after scrape 14
        outcome = probe._ingest(exposition(total * 0.9, total * 0.1, (total, total, total)), t0 + 5 * i)
        if outcome.values["rate_rps"] is not None:
            rates.append(outcome.values["rate_rps"])
    assert min(rates) > 0 and max(rates) < 10.5
    assert rates[-1] == pytest.approx(10.0)


def test_restart_whose_series_vanish_for_a_scrape_is_still_a_reset():
    probe, clock = make_probe(window=30.0)
    t0 = clock.now().timestamp()
    empty = "# TYPE http_requests_total counter\n"  # just restarted: nothing served yet
    rates = []
    for i in range(12):
        if i < 5:
            text = exposition(90_000 + 45 * i, 10_000 + 5 * i)
        elif i == 5:
            text = empty
        else:
            text = exposition(45 * (i - 5), 5 * (i - 5))
        outcome = probe._ingest(text, t0 + 5 * i)
        if outcome.values["rate_rps"] is not None:
            rates.append(outcome.values["rate_rps"])
    assert all(0 <= r <= 10.5 for r in rates), rates
    # the scrape at 25 s saw nothing new; from 30 s on 10 req/s again, all of it counted
    assert rates[-1] == pytest.approx(10.0, rel=0.01)


def test_no_traffic_is_no_ratio_never_zero_percent():
    probe, clock = make_probe(window=60.0)
    t0 = clock.now().timestamp()
    for i in range(4):
        outcome = probe._ingest(exposition(500, 20, (500, 520, 520)), t0 + 5 * i)
    assert outcome.values["rate_rps"] == 0.0
    assert outcome.values["error_ratio"] is None
    assert outcome.values["p95_seconds"] is None
    assert outcome.status is Status.WARN and "no traffic" in outcome.reason


def test_zero_errors_with_traffic_is_zero_percent():
    probe, clock = make_probe(p95_warn=1.0, p95_crit=2.0)
    outcome, _ = steady(probe, clock.now().timestamp(), 30, error_share=0.0, base=100)
    assert outcome.values["error_ratio"] == 0.0
    assert outcome.status is Status.OK


def test_error_ratio_warns_then_goes_crit_once_sustained():
    probe, clock = make_probe(window=60.0, error_ratio_for=60.0, p95_warn=1.0, p95_crit=2.0)
    t0 = clock.now().timestamp()
    outcome, t = steady(probe, t0, 5, base=1000)  # two scrapes: 10 % already
    assert outcome.status is Status.WARN
    assert "crit after 1m" in outcome.reason
    assert outcome.values["error_ratio_breach_seconds"] == 0.0
    outcome, t = steady(probe, t, 30, base=1000 + 10 * (t - t0))
    assert outcome.status is Status.WARN
    assert outcome.values["error_ratio_breach_seconds"] == pytest.approx(35.0)
    outcome, t = steady(probe, t, 30, base=1000 + 10 * (t - t0))
    assert outcome.status is Status.CRIT
    assert outcome.reason.startswith("error ratio > 5% for 1m")
    assert outcome.values["error_ratio_breach_seconds"] == pytest.approx(70.0)


def test_metric_missing_is_unknown_and_names_the_url():
    probe, clock = make_probe(url="http://user:hunter2@127.0.0.1:9/metrics")
    outcome = probe._ingest("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.5\n",
                            clock.now().timestamp())
    assert outcome.status is Status.UNKNOWN
    assert outcome.reason == "no http_requests_total at http://user:***@127.0.0.1:9/metrics"


def test_declared_but_never_used_counter_is_no_traffic_not_a_missing_metric():
    """prometheus_client exposes only HELP and TYPE for a labelled counter nobody has incremented."""
    from prometheus_client import CollectorRegistry, Counter, generate_latest

    registry = CollectorRegistry()
    Counter("http_requests_total", "Requests.", ["code"], registry=registry)
    text = generate_latest(registry).decode()
    assert "# TYPE http_requests_total counter" in text and "{" not in text
    probe, clock = make_probe()
    t0 = clock.now().timestamp()
    probe._ingest(text, t0)
    outcome = probe._ingest(text, t0 + 5)
    assert outcome.values["rate_rps"] == 0.0 and outcome.values["error_ratio"] is None
    assert "no traffic" in outcome.reason


def test_garbage_is_not_prometheus_text():
    probe, clock = make_probe()
    outcome = probe._ingest("<html><body>It works!</body></html>\n", clock.now().timestamp())
    assert outcome.status is Status.UNKNOWN
    assert outcome.reason.startswith("scrape failed: not Prometheus text format: ")
    assert len(outcome.reason) < 140


def test_histogram_missing_leaves_p95_unknown_but_judges_errors():
    probe, clock = make_probe()
    t0 = clock.now().timestamp()
    for i in range(3):
        outcome = probe._ingest(exposition(1000 + 45 * i, 100 + 5 * i), t0 + 5 * i)
    assert outcome.values["p95_seconds"] is None
    assert outcome.values["error_ratio"] == pytest.approx(0.1)


def test_status_label_counts_as_well_as_code():
    probe, clock = make_probe()
    t0 = clock.now().timestamp()
    for i in range(3):
        n = 100 * i
        text = (f'http_requests_total{{status="200"}} {1000 + 3 * n}\n'
                f'http_requests_total{{status="502"}} {1000 + n}\n'
                f'http_requests_total{{status="404"}} {n}\n')
        outcome = probe._ingest(text, t0 + 5 * i)
    assert outcome.values["error_ratio"] == pytest.approx(0.2)


def test_one_judge_per_probe_remembers_the_breach():
    probe, clock = make_probe(window=60.0)
    t0 = clock.now().timestamp()
    steady(probe, t0, 20, base=1000)
    outcome = probe._ingest(exposition(1125, 125, (625, 1125, 1250)), t0 + 25)
    assert outcome.values["error_ratio_breach_seconds"] == pytest.approx(20.0)


# ---------------------------------------------------------------- SLO windows and retention


def test_slo_windows_are_unknown_until_the_history_reaches_back_that_far():
    probe, clock = make_probe(window=60.0, slo=SloConfig(objective=0.99))
    t0 = clock.now().timestamp()
    outcome, _ = steady(probe, t0, 400, step=10, base=1000)
    ratios = {w: probe.window_error_ratio(w, t0 + 400) for w in BURN_WINDOWS}
    assert ratios[300.0] == pytest.approx(0.1)
    assert all(ratios[w] is None for w in BURN_WINDOWS if w > 400)
    assert outcome.values["slo_level"] == "unknown"  # no rule has both of its windows yet


def test_slo_burn_from_retained_history():
    probe, clock = make_probe(window=60.0, slo=SloConfig(objective=0.99))
    t0 = clock.now().timestamp()
    outcome, _ = steady(probe, t0, 3700, step=30, base=1000, error_share=0.2)
    burn = outcome.values["slo_burn"]
    assert burn["5m"] == pytest.approx(20.0) and burn["1h"] == pytest.approx(20.0)
    assert burn["30m"] == pytest.approx(20.0)
    assert burn["6h"] is None and burn["3d"] is None
    assert outcome.status is Status.CRIT and "→ page" in outcome.reason


def test_history_keeps_every_scrape_for_an_hour_then_one_a_minute_for_three_days():
    history = History(raw_seconds=RAW_SECONDS)
    step, t = 5.0, 1_700_000_000.0
    four_days = int(4 * 86400 / step)
    for i in range(four_days):
        history.add(Snapshot(t + i * step, float(i), 0.0))
    now = t + (four_days - 1) * step
    bound = RAW_SECONDS / step + 1 + KEEP_SECONDS / THIN_STEP + 1
    assert len(history) <= bound
    assert len(history) > 0.95 * bound  # ... and it does keep that much
    kept = list(history)
    assert now - kept[0].at <= KEEP_SECONDS and now - kept[0].at >= max(BURN_WINDOWS)
    raw = [s for s in kept if s.at >= now - RAW_SECONDS]
    assert len(raw) == RAW_SECONDS / step + 1  # the last hour untouched
    old = [s.at for s in kept if s.at < now - RAW_SECONDS]
    gaps = {round(b - a) for a, b in zip(old, old[1:])}
    assert gaps == {60}
    # a 3-day window is covered by what is kept; totals are cumulative so thinning loses nothing
    inside = history.since(now - max(BURN_WINDOWS))
    assert history.covers(now - max(BURN_WINDOWS), inside)


def test_thinned_history_still_gives_the_long_window_ratio():
    history = History(raw_seconds=600.0, keep_seconds=7200.0)
    for i in range(0, 7200, 5):
        history.add(Snapshot(float(i), 10.0 * i, 0.5 * i))
    assert len(history) <= 600 / 5 + 1 + 7200 / 60 + 1
    probe, _ = make_probe()
    probe.snapshots = history
    assert probe.window_error_ratio(3600.0, at=7195.0) == pytest.approx(0.05)


def test_series_that_vanish_are_forgotten_without_losing_their_count():
    probe, clock = make_probe(window=60.0)
    t0 = clock.now().timestamp()
    for i in range(3):
        text = "".join(f'http_requests_total{{code="200",path="/item/{i}-{j}"}} 10\n' for j in range(100))
        text += f'http_requests_total{{code="200",path="/"}} {1000 + 100 * i}\n'
        probe._ingest(text, t0 + 5 * i)
    later = t0 + RAW_SECONDS + 100
    outcome = probe._ingest('http_requests_total{code="200",path="/"} 1300\n', later)
    assert len(probe._counters) == 1
    assert outcome.values["rate_rps"] is None or outcome.values["rate_rps"] >= 0
    assert list(probe.snapshots)[-1].requests >= list(probe.snapshots)[-2].requests


# ---------------------------------------------------------------- the real HTTP path


class _Target:
    def __init__(self) -> None:
        self.status = 200
        self.body = ""
        self.requests = 0
        self.delay = 0.0


@pytest.fixture
def target() -> Iterator[tuple[_Target, str]]:
    state = _Target()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            state.requests += 1
            time.sleep(state.delay)
            payload = state.body.encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            return None  # keep pytest output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def test_collect_over_http_with_an_injected_clock(target):
    state, url = target
    probe, clock = make_probe(window=10.0, url=url)
    try:
        state.body = exposition(9000, 1000, (5000, 9000, 10000))
        first = await probe.collect()
        assert first.status is Status.UNKNOWN and "collecting" in first.reason
        clock.advance(5)
        state.body = exposition(9000 + 90, 1000 + 10, (5050, 9090, 10100))
        second = await probe.collect()
        # 100 requests in 5 s; the first scrape is within 1.1 intervals of the window start, so
        # Prometheus extrapolates to the whole 10 s window: 100 * 10/5 / 10
        assert second.values["rate_rps"] == pytest.approx(20.0)
        assert second.values["error_ratio"] == pytest.approx(0.1)
        assert state.requests == 2
    finally:
        await probe.aclose()
    assert probe._client is None


@pytest.mark.parametrize(("status", "reason"), [(404, "scrape failed: HTTP 404"), (503, "scrape failed: HTTP 503")])
async def test_http_errors_are_unknown_with_the_status(target, status, reason):
    state, url = target
    state.status, state.body = status, "nope"
    probe, _ = make_probe(url=url)
    try:
        outcome = await probe.collect()
    finally:
        await probe.aclose()
    assert outcome.status is Status.UNKNOWN and outcome.reason == reason


async def test_hung_target_is_unknown_after_the_probe_timeout(target):
    state, url = target
    state.delay = 1.0
    probe, _ = make_probe(url=url, timeout=0.2)
    try:
        started = time.monotonic()
        outcome = await probe.collect()
    finally:
        await probe.aclose()
    assert time.monotonic() - started < 0.9
    assert outcome.status is Status.UNKNOWN and outcome.reason == "scrape failed: timeout after 200ms"


async def test_garbage_over_http_is_unknown(target):
    state, url = target
    state.body = '{"status": "ok"}\n'
    probe, _ = make_probe(url=url)
    try:
        outcome = await probe.collect()
    finally:
        await probe.aclose()
    assert outcome.status is Status.UNKNOWN
    assert outcome.reason.startswith("scrape failed: not Prometheus text format")


async def test_connection_refused_is_unknown_not_crit(free_port_url):
    probe, _ = make_probe(url=free_port_url)
    try:
        outcome = await probe.collect()
    finally:
        await probe.aclose()
    assert outcome.status is Status.UNKNOWN
    assert outcome.reason == "scrape failed: connection refused"


async def test_large_bodies_are_parsed_off_the_event_loop(target):
    state, url = target
    padding = "".join(f'other_metric{{i="{i}"}} {i}\n' for i in range(4000))
    probe, clock = make_probe(window=10.0, url=url)
    try:
        state.body = exposition(1000, 0, (1, 1, 1), extra=padding)
        await probe.collect()
        clock.advance(5)
        state.body = exposition(1050, 0, (1, 1, 1), extra=padding)
        outcome = await probe.collect()
    finally:
        await probe.aclose()
    assert len(state.body) > 64 * 1024
    assert outcome.values["rate_rps"] == pytest.approx(10.0)


async def test_history_has_nothing_to_backfill():
    probe, _ = make_probe()
    assert await probe.history(1800) == []


def test_probe_protocol_fields():
    probe, _ = make_probe(window=60.0)
    assert (probe.panel, probe.target, probe.timeout, probe.interval) == ("traffic", "app", 3.0, 5.0)
    probe2, _ = make_probe(timeout=1.5, interval=2.0)
    assert (probe2.timeout, probe2.interval) == (1.5, 2.0)


@pytest.fixture
def free_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/metrics"
