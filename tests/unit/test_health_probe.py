"""HttpProbe and TcpProbe: judgement without a network, body/JSON checks and TCP against loopback sockets."""

import errno
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from launchdeck.core.config import HttpService, TcpService
from launchdeck.core.model import Status
from launchdeck.engine.polling import collect_once
from launchdeck.probes.services.http import BODY_LIMIT, HttpProbe, TcpProbe, describe_connect_error, judge_latency


def probe(**overrides) -> HttpProbe:
    spec = HttpService(name="api", url="https://ops:pw@example.com/health?token=t0k", **overrides)
    return HttpProbe(spec, default_interval=7.0)


def test_interval_falls_back_to_deck_refresh_and_url_is_redacted():
    p = probe()
    assert p.interval == 7.0 and p.timeout == 2.0
    assert "pw" not in p.display_url and "t0k" not in p.display_url


@pytest.mark.parametrize("code, latency, status, reason", [
    (200, 0.05, Status.OK, "HTTP 200 in 50ms"),
    (200, 0.6, Status.WARN, "slow (≥ 500ms)"),
    (200, 1.2, Status.CRIT, "slow (≥ 1000ms)"),
    (500, 0.01, Status.CRIT, "HTTP 500, expected 200"),
    (301, 0.01, Status.CRIT, "HTTP 301, expected 200"),
])
def test_judge_status_and_latency(code, latency, status, reason):
    outcome = probe().judge(code, latency)
    assert (outcome.status, outcome.reason) == (status, reason)
    assert outcome.values["http_status"] == code and outcome.values["latency_seconds"] == latency


def test_expected_status_set_and_custom_thresholds():
    p = probe(expect_status=[200, 204], latency_warn="100ms", latency_crit="200ms")
    assert p.judge(204, 0.05).status is Status.OK
    assert p.judge(200, 0.15).status is Status.WARN
    assert p.judge(418, 0.01).reason == "HTTP 418, expected 200/204"


def test_connect_errors_are_named_from_the_innermost_errno():
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed")
    wrapper = OSError("All connection attempts failed")
    wrapper.__cause__ = refused
    outer = RuntimeError("ConnectError")
    outer.__cause__ = wrapper
    assert describe_connect_error(outer) == "connection refused"
    assert describe_connect_error(RuntimeError("[Errno -2] Name or service not known")) == "DNS lookup failed"


# ------------------------------------------------------------ body and JSON checks

BODIES = {
    "/healthy": b'{"status": "healthy", "checks": {"db": "ok", "queue": {"depth": 3}}, "items": [{"up": true}]}',
    "/degraded": b'{"status": "degraded", "checks": {"db": "down"}}',
    "/text": b"all systems ok\n",
    "/html": b"<html>502 Bad Gateway</html>",
    "/huge": b"x" * (BODY_LIMIT + 4096),
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = BODIES.get(self.path, b"")
        self.send_response(200 if self.path in BODIES else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        return


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


async def poll(url: str, **checks):
    p = HttpProbe(HttpService(name="api", url=url, latency_warn="5s", latency_crit="10s", **checks), 5.0)
    try:
        return await collect_once(p)
    finally:
        await p.aclose()


@pytest.mark.parametrize("path, checks, status, reason", [
    ("/text", {"body_contains": "ok"}, Status.OK, None),
    ("/html", {"body_contains": "ok"}, Status.CRIT, "body lacks 'ok'"),
    ("/healthy", {"json_field": "status", "json_equals": "healthy"}, Status.OK, None),
    ("/degraded", {"json_field": "status", "json_equals": "healthy"}, Status.CRIT,
     'status is "degraded", expected "healthy"'),
    ("/degraded", {"json_field": "checks.db", "json_equals": "ok"}, Status.CRIT, 'checks.db is "down", expected "ok"'),
    ("/healthy", {"json_field": "checks.queue.depth", "json_equals": 3}, Status.OK, None),
    ("/healthy", {"json_field": "items.0.up", "json_equals": True}, Status.OK, None),
    ("/healthy", {"json_field": "checks.cache"}, Status.CRIT, "checks.cache missing from JSON body"),
    ("/healthy", {"json_field": "checks"}, Status.OK, None),  # json_field alone: the field must exist
    ("/html", {"json_field": "status", "json_equals": "healthy"}, Status.CRIT, "body is not JSON"),
    ("/huge", {"body_contains": "ok"}, Status.CRIT, "body lacks 'ok'"),
    ("/missing", {"body_contains": "ok"}, Status.CRIT, "HTTP 404, expected 200"),  # status is judged first
])
async def test_body_and_json_checks_against_a_real_server(server, path, checks, status, reason):
    reading = await poll(server + path, **checks)
    assert reading.status is status, reading.reason
    if reason is not None:
        assert reading.reason == reason
    assert {"http_status", "latency_seconds", "url"} <= set(reading.values)


def test_json_comparison_is_typed_and_values_are_shown_short():
    p = probe(json_field="n", json_equals=1)
    assert p.check_body(b'{"n": 1}') is None and p.check_body(b'{"n": 1.0}') is None
    assert p.check_body(b'{"n": true}') == "n is true, expected 1"  # no Python True == 1
    assert p.check_body(b'{"n": "1"}') == 'n is "1", expected 1'
    long = p.check_body(json.dumps({"n": "y" * 500}).encode())
    assert long.startswith('n is "yyy') and long.endswith('…, expected 1') and len(long) < 90
    assert probe(json_field="a").check_body(b"\xff\xfe") == "body is not JSON"


def test_body_checks_only_apply_when_the_status_is_expected():
    p = probe(body_contains="ok")
    assert p.judge(200, 0.01, b"fine: ok").status is Status.OK
    assert p.judge(200, 0.01, b"nope").reason == "body lacks 'ok'"
    assert p.judge(200, 2.0, b"nope").reason == "body lacks 'ok'"  # a failed check outranks slowness
    assert p.judge(503, 0.01, b"ok").reason == "HTTP 503, expected 200"


def test_latency_judgement_is_shared():
    assert judge_latency(0.1, 0.5, 1.0) == (Status.OK, "")
    assert judge_latency(0.5, 0.5, 1.0) == (Status.WARN, "slow (≥ 500ms)")
    assert judge_latency(3.0, 0.5, 1.0) == (Status.CRIT, "slow (≥ 1000ms)")


# ------------------------------------------------------------ TCP


def tcp(port: int, **overrides) -> TcpProbe:
    return TcpProbe(TcpService(kind="tcp", name="db-port", host="127.0.0.1", port=port, **overrides), 5.0)


async def test_tcp_connects_to_a_listening_socket_and_closes_it():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    try:
        reading = await collect_once(tcp(port))
        accepted, _ = listener.accept()  # the handshake completed; the probe has closed its side
        accepted.settimeout(2)
        assert accepted.recv(1) == b"", "the probe must close its connection (EOF), not leave it open"
        accepted.close()
    finally:
        listener.close()
    assert reading.status is Status.OK and reading.reason.startswith("connected in ")
    assert reading.values["address"] == f"127.0.0.1:{port}" and reading.values["latency_seconds"] < 0.5


async def test_tcp_refused_is_crit():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: the kernel refuses
        reading = await collect_once(tcp(port))
    assert (reading.status, reading.reason) == (Status.CRIT, "connection refused")
    assert reading.values == {"address": f"127.0.0.1:{port}"}


async def test_tcp_unknown_host_is_a_dns_failure():
    p = TcpProbe(TcpService(kind="tcp", name="x", host="no-such-host.invalid", port=80), 5.0)
    reading = await collect_once(p)
    assert (reading.status, reading.reason) == (Status.CRIT, "DNS lookup failed")


def test_tcp_latency_thresholds_and_ipv6_address():
    p = tcp(5432, latency_warn="100ms", latency_crit="300ms")
    assert p.judge(0.05).status is Status.OK
    assert p.judge(0.15).reason == "slow (≥ 100ms)"
    assert p.judge(0.35).status is Status.CRIT
    v6 = TcpProbe(TcpService(kind="tcp", name="v6", host="::1", port=5432), 5.0)
    assert v6.address == "[::1]:5432"

