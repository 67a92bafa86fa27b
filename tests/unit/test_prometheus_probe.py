"""PrometheusTrafficProbe without a real Prometheus, and the daemon-thread pool it runs on.

A tiny ThreadingHTTPServer imitates /api/v1/query answers (vector, empty, 400 bad_data, 503, a
hang) so the probe is exercised end to end through prometheus-api-client and requests; the real
server is in tests/integration/test_prometheus_traffic.py.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urlparse

import pytest

from launchdeck.core.pool import BlockingPool, default_pool, run_blocking
from launchdeck.core.config import PrometheusConfig, TrafficConfig
from launchdeck.core.model import FixedClock, Status
from launchdeck.engine.polling import collect_once
from launchdeck.probes.traffic.prometheus import (PrometheusError, PrometheusTrafficProbe, default_queries,
                                          describe_api_error, parse_promql_duration, promql_duration,
                                          scalar_value, with_range)

# --------------------------------------------------------------------------- blocking.py


async def test_run_blocking_passes_results_and_exceptions_through():
    assert await run_blocking(lambda a, b=0: a + b, 2, b=3, timeout=1) == 5
    with pytest.raises(ZeroDivisionError):
        await run_blocking(lambda: 1 / 0, timeout=1)


async def test_a_hung_call_times_out_and_the_thread_is_abandoned():
    pool, release = BlockingPool(max_threads=2), threading.Event()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await pool.run(release.wait, timeout=0.2)
    assert 0.2 <= time.monotonic() - started < 0.5
    assert pool.busy == 1  # still stuck in release.wait()
    release.set()
    await _until(lambda: pool.busy == 0)


async def test_eight_hung_calls_do_not_stop_a_ninth_from_timing_out_and_capacity_returns():
    pool, release = BlockingPool(max_threads=8), threading.Event()
    hung = [asyncio.create_task(pool.run(release.wait, timeout=30)) for _ in range(8)]
    await _until(lambda: pool.busy == 8)
    ran = threading.Event()
    started = time.monotonic()
    with pytest.raises(TimeoutError):  # waits for a free thread, but only within its own timeout
        await pool.run(ran.set, timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 0.6
    assert pool.threads == 8  # bounded: no ninth thread was started
    release.set()
    assert await asyncio.gather(*hung) == [True] * 8
    assert not ran.is_set()  # the abandoned, queued call never ran late
    assert await pool.run(lambda: "again", timeout=1) == "again"
    assert pool.threads == 8


async def test_a_queued_call_runs_once_a_hung_one_is_released():
    pool, release = BlockingPool(max_threads=1), threading.Event()
    hung = asyncio.create_task(pool.run(release.wait, timeout=30))
    await _until(lambda: pool.busy == 1)
    queued = asyncio.create_task(pool.run(lambda: "queued", timeout=5))
    await asyncio.sleep(0.1)
    assert not queued.done()
    release.set()
    assert await queued == "queued" and await hung is True


async def test_threads_start_only_when_needed():
    pool = BlockingPool(max_threads=8)
    assert pool.threads == 0
    for _ in range(5):
        await pool.run(lambda: None, timeout=1)
    assert pool.threads == 1  # sequential calls reuse the idle thread


def test_the_process_exits_promptly_with_a_hung_call_outstanding():
    script = (
        "import asyncio, threading\n"
        "from launchdeck.core.pool import run_blocking\n"
        "async def main():\n"
        "    try:\n"
        "        await run_blocking(threading.Event().wait, timeout=0.2)\n"
        "    except TimeoutError:\n"
        "        print('timed out')\n"
        "asyncio.run(main())\n"
    )
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "timed out"
    assert time.monotonic() - started < 2.0


# --------------------------------------------------------------------------- query text


def spec(**overrides: Any) -> TrafficConfig:
    return TrafficConfig(name=overrides.pop("name", "api"), **overrides)


def test_default_queries_use_the_name_as_job_and_the_window_in_promql_form():
    q = default_queries(spec())
    assert q == {
        "error_ratio": '(sum(rate(http_requests_total{job="api",code=~"5.."}[5m])) or vector(0))'
                       ' / sum(rate(http_requests_total{job="api"}[5m]))',
        "p95": 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="api"}[5m])))',
        "rate": 'sum(rate(http_requests_total{job="api"}[5m]))',
    }
    q = default_queries(spec(job='we"b', window="90s"))
    assert q["rate"] == 'sum(rate(http_requests_total{job="we\\"b"}[1m30s]))'


def test_overrides_replace_each_query():
    q = default_queries(spec(p95="histogram_quantile(0.95, x)", rate="sum(rate(y[1m]))"))
    assert q["p95"] == "histogram_quantile(0.95, x)" and q["rate"] == "sum(rate(y[1m]))"
    assert q["error_ratio"].startswith("(sum(rate(http_requests_total")


def test_slo_windows_get_the_error_ratio_with_their_range():
    q = default_queries(spec(slo={"objective": "99.9%"}))
    assert set(q) == {"error_ratio", "p95", "rate", "error_ratio_5m", "error_ratio_30m", "error_ratio_1h",
                      "error_ratio_6h", "error_ratio_3d"}
    assert q["error_ratio_5m"] == q["error_ratio"]
    assert q["error_ratio_6h"].count("[6h]") == 2 and "[5m]" not in q["error_ratio_6h"]


def test_an_error_ratio_override_gets_slo_windows_only_when_it_uses_the_window():
    q = default_queries(spec(slo={"objective": "99%"}, error_ratio="sum(rate(e[300s])) / sum(rate(t[5m:1m]))"))
    assert q["error_ratio_1h"] == "sum(rate(e[1h])) / sum(rate(t[5m:1m]))"  # subqueries are left alone
    q = default_queries(spec(slo={"objective": "99%"}, error_ratio="sum(rate(e[2m])) / sum(rate(t[2m]))"))
    assert not any(key.startswith("error_ratio_") for key in q)


@pytest.mark.parametrize("seconds, text", [(300, "5m"), (30, "30s"), (90, "1m30s"), (3600, "1h"),
                                           (259200, "3d"), (0.25, "250ms"), (1209600, "2w")])
def test_promql_durations(seconds, text):
    assert promql_duration(seconds) == text
    assert parse_promql_duration(text) == seconds


def test_with_range_needs_a_matching_selector():
    assert with_range("rate(x[1m])", 300, 3600) is None
    assert with_range("rate(x[ 5m ])", 300, 3600) == "rate(x[1h])"


# --------------------------------------------------------------------------- answers


@pytest.mark.parametrize("text", ["NaN", "+Inf", "-Inf"])
def test_nan_and_infinities_are_no_data(text):
    assert scalar_value([{"metric": {}, "value": [1.0, text]}]) is None


def test_empty_vector_is_no_data_never_zero():
    assert scalar_value([]) is None
    assert scalar_value([{"metric": {}, "value": [1.0, "0.031"]}]) == 0.031
    assert scalar_value([1.0, "2.5"]) == 2.5  # resultType scalar


def test_several_series_are_refused():
    with pytest.raises(PrometheusError, match="query returned 2 series; aggregate it with sum()"):
        scalar_value([{"metric": {"code": "200"}, "value": [1, "1"]}, {"metric": {"code": "500"}, "value": [1, "2"]}])


def test_promql_error_bodies_are_worded_as_prometheus_does():
    from prometheus_api_client import PrometheusApiClientException

    body = {"status": "error", "errorType": "bad_data",
            "error": "1:8: parse error: unexpected \"}\" in label matching, expected string"}
    error = PrometheusApiClientException("HTTP Status Code {} ({!r})".format(400, json.dumps(body).encode()))
    assert describe_api_error(error) == 'bad_data: 1:8: parse error: unexpected "}" in label matching, expected string'
    error = PrometheusApiClientException("HTTP Status Code {} ({!r})".format(503, b"Service Unavailable\n"))
    assert describe_api_error(error) == "HTTP 503: Service Unavailable"
    assert describe_api_error(PrometheusApiClientException("something else")) == "something else"


# --------------------------------------------------------------------------- end to end, fake server

Answer = tuple[int, Any] | str  # (status, JSON-able or bytes body) or "hang"


class FakePrometheus:
    """Answers /api/v1/query and /api/v1/query_range from `answer(path, params)`; records requests."""

    def __init__(self) -> None:
        self.answer: Callable[[str, dict[str, str]], Answer] = lambda path, params: (200, vector("1"))
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.release = threading.Event()
        self.headers: dict[str, str] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                fake.requests.append((url.path, params))
                answer = fake.answer(url.path, params)
                if answer == "hang":
                    fake.release.wait(30)
                    return
                status, body = answer
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for name, value in fake.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                return None  # keep pytest output clean

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def vector(*values: str) -> dict[str, Any]:
    result = [{"metric": {"n": str(i)} if len(values) > 1 else {}, "value": [1767268800, v]}
              for i, v in enumerate(values)]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def by_metric(error_ratio: Answer, p95: Answer, rate: Answer, other: Answer = (200, vector("0.001"))):
    def answer(path: str, params: dict[str, str]) -> Answer:
        query = params["query"]
        if query.startswith("histogram_quantile"):
            return p95
        if " / " in query:
            return error_ratio if "[5m]" in query or "[1m]" in query else other
        return rate
    return answer


@pytest.fixture
def fake() -> Iterator[FakePrometheus]:
    server = FakePrometheus()
    yield server
    server.close()


_open: list[PrometheusTrafficProbe] = []


@pytest.fixture(autouse=True)
async def _close_probes() -> Any:
    yield
    while _open:
        await _open.pop().aclose()


def make_probe(url: str, clock: FixedClock | None = None, **overrides: Any) -> PrometheusTrafficProbe:
    overrides.setdefault("timeout", "500ms")
    probe = PrometheusTrafficProbe(spec(**overrides), PrometheusConfig(url=url), 5.0, clock or FixedClock())
    _open.append(probe)
    return probe


async def test_a_healthy_answer_is_judged_with_one_evaluation_time(fake: FakePrometheus):
    fake.answer = by_metric((200, vector("0.002")), (200, vector("0.1234")), (200, vector("210.5")))
    clock = FixedClock()
    p = make_probe(fake.url, clock)
    assert (p.panel, p.target, p.timeout, p.interval) == ("traffic", "api", 0.5, 5.0)
    outcome = await p.collect()
    assert outcome.status is Status.OK
    assert outcome.reason == "errors 0.2%, p95 123ms, 210.5 req/s"
    assert (outcome.values["error_ratio"], outcome.values["p95_seconds"], outcome.values["rate_rps"]) == (
        0.002, 0.1234, 210.5)
    assert len(fake.requests) == 3
    assert {params["time"] for _, params in fake.requests} == {f"{clock.now().timestamp():.3f}"}
    await p.aclose()


async def test_nan_p95_and_empty_vectors_read_as_no_traffic_not_zero(fake: FakePrometheus):
    empty = (200, vector())
    fake.answer = by_metric(empty, (200, vector("NaN")), empty)
    outcome = await make_probe(fake.url).collect()
    assert outcome.status is Status.WARN
    assert outcome.reason == "no traffic in the last 5m"
    assert (outcome.values["error_ratio"], outcome.values["p95_seconds"], outcome.values["rate_rps"]) == (
        None, None, None)


async def test_a_promql_error_shows_prometheus_error_type_and_message(fake: FakePrometheus):
    error = (400, {"status": "error", "errorType": "bad_data", "error": "1:8: parse error: unexpected <EOF>"})
    fake.answer = by_metric((200, vector("0")), error, (200, vector("5")))
    outcome = await make_probe(fake.url).collect()
    assert outcome.status is Status.UNKNOWN
    assert outcome.reason == "bad_data: 1:8: parse error: unexpected <EOF> (p95 query)"
    assert outcome.values == {"error_ratio": None, "p95_seconds": None, "rate_rps": None}


async def test_several_series_are_unknown_with_advice(fake: FakePrometheus):
    fake.answer = by_metric((200, vector("0")), (200, vector("0.1")), (200, vector("5", "7")))
    outcome = await make_probe(fake.url).collect()
    assert (outcome.status, outcome.reason) == (
        Status.UNKNOWN, "query returned 2 series; aggregate it with sum() (rate query)")


@pytest.mark.parametrize("retry_after", [False, True])
async def test_a_503_is_not_retried(fake: FakePrometheus, retry_after: bool):
    fake.answer = lambda path, params: (503, b"Service Unavailable")
    if retry_after:
        fake.headers["Retry-After"] = "1"
    started = time.monotonic()
    outcome = await make_probe(fake.url, timeout="3s").collect()
    assert time.monotonic() - started < 1.0  # the library's default retries took 6 s
    assert (outcome.status, outcome.reason) == (Status.UNKNOWN, "HTTP 503: Service Unavailable")
    assert len(fake.requests) == 3  # one per query: no retry


async def test_a_hanging_prometheus_costs_the_timeout_and_no_more(fake: FakePrometheus):
    fake.answer = lambda path, params: "hang"
    started = time.monotonic()
    reading = await collect_once(make_probe(fake.url, timeout="500ms"))
    assert 0.5 <= time.monotonic() - started < 0.9
    assert (reading.status, reading.reason) == (Status.UNKNOWN, "timeout after 500ms")
    assert len(fake.requests) == 3


async def test_prometheus_down_is_unknown_and_quick():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    outcome = await make_probe(f"http://127.0.0.1:{port}").collect()
    assert time.monotonic() - started < 1.0
    assert (outcome.status, outcome.reason) == (Status.UNKNOWN, "prometheus unreachable: connection refused")


def test_a_url_without_scheme_is_refused_by_the_config():
    """Once a runtime unknown at the first poll; now the config names the field at load."""
    with pytest.raises(ValueError, match="expected an http:// or https:// URL"):
        make_probe("localhost:9090")


async def test_the_judge_is_kept_across_polls_for_the_for_duration(fake: FakePrometheus):
    fake.answer = by_metric((200, vector("0.08")), (200, vector("0.1")), (200, vector("50")))
    clock = FixedClock()
    p = make_probe(fake.url, clock, error_ratio_for="2m")
    first = await p.collect()
    assert first.status is Status.WARN and "crit after 2m" in first.reason
    clock.advance(150)
    second = await p.collect()
    assert second.status is Status.CRIT and second.reason.startswith("error ratio > 5% for 2m")


async def test_slo_windows_are_queried_and_a_failing_one_does_not_hide_the_rest(fake: FakePrometheus):
    def answer(path: str, params: dict[str, str]) -> Answer:
        query = params["query"]
        if "[3d]" in query:
            return 422, {"status": "error", "errorType": "execution", "error": "too many samples"}
        if "[1h]" in query or "[5m]" in query:
            return 200, vector("0.02")  # 20x a 99.9% budget over both 1h and 5m: page
        return by_metric((200, vector("0.02")), (200, vector("0.1")), (200, vector("50")))(path, params)

    fake.answer = answer
    outcome = await make_probe(fake.url, slo={"objective": "99.9%"}, error_ratio_warn="5%",
                               error_ratio_crit="10%").collect()
    assert len(fake.requests) == 7  # 3 main + 30m, 1h, 6h, 3d (5m is the main error ratio)
    assert outcome.status is Status.CRIT
    assert outcome.values["slo_level"] == "page"
    assert outcome.values["slo_burn"]["3d"] is None
    assert "SLO windows failed: 3d: execution: too many samples" in outcome.reason


async def test_history_merges_the_range_queries_by_timestamp(fake: FakePrometheus):
    def answer(path: str, params: dict[str, str]) -> Answer:
        assert path == "/api/v1/query_range"
        start, step = int(params["start"]), float(params["step"])
        value = "NaN" if params["query"].startswith("histogram") else "0.5"
        values = [[start + i * step, value] for i in range(3)]
        return 200, {"status": "success", "data": {"resultType": "matrix",
                                                    "result": [{"metric": {}, "values": values}]}}

    fake.answer = answer
    clock = FixedClock()
    points = await make_probe(fake.url, clock).history(600)
    assert {params["step"] for _, params in fake.requests} == {"10"}
    assert int(fake.requests[0][1]["end"]) == int(clock.now().timestamp())
    assert [at for at, _ in points] == [clock.now() - timedelta(seconds=600 - 10 * i) for i in range(61)]
    assert points[0][1] == {"error_ratio": 0.5, "p95_seconds": None, "rate_rps": 0.5}
    assert points[3][1] == {"error_ratio": None, "p95_seconds": None, "rate_rps": None}  # no data: a gap


async def test_history_errors_raise_for_the_caller(fake: FakePrometheus):
    fake.answer = lambda path, params: (400, {"status": "error", "errorType": "bad_data", "error": "nope"})
    with pytest.raises(PrometheusError, match="bad_data: nope"):
        await make_probe(fake.url).history()


def test_importing_the_probe_does_not_import_the_client():
    script = ("import sys, launchdeck.probes.traffic.prometheus\n"
              "heavy = [m for m in ('prometheus_api_client', 'requests', 'urllib3') if m in sys.modules]\n"
              "raise SystemExit(f'imported {heavy}' if heavy else 0)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


async def _until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def test_default_pool_is_shared():
    assert default_pool() is default_pool()
