"""HttpProbe's judgement, without a network (the real-server tests are in integration/)."""

import errno

import pytest

from launchdeck.config import HttpService
from launchdeck.model import Status
from launchdeck.probes.health import HttpProbe, describe_connect_error


def probe(**overrides) -> HttpProbe:
    spec = HttpService(name="api", url="https://ops:pw@example.com/health?token=t0k", **overrides)
    return HttpProbe(spec, default_interval=7.0)


def test_interval_falls_back_to_deck_refresh_and_url_is_redacted():
    p = probe()
    assert p.interval == 7.0 and p.timeout == 2.0
    assert "pw" not in p.display_url and "t0k" not in p.display_url


@pytest.mark.parametrize("code, latency, status, reason", [
    (200, 0.05, Status.OK, "HTTP 200 in 50ms"),
    (200, 0.6, Status.WARN, "slow: 600ms ≥ 500ms"),
    (200, 1.2, Status.CRIT, "slow: 1200ms ≥ 1000ms"),
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
