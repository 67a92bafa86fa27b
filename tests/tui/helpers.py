"""Build the app the way the CLI does, with fake probes and a fixed clock (no network, no clock)."""

from __future__ import annotations

import asyncio

from launchdeck.tui.app import LaunchdeckApp, make_app
from launchdeck.core.config import parse_config
from launchdeck.core.model import FixedClock, Outcome, Status
from tests.fakes import FakeProbe


def config_for(targets: list[str], environment: str = "production", extra: str = ""):
    services = "".join(f'[[services]]\nname = "{t}"\nurl = "http://127.0.0.1:9/{t}/health"\n' for t in targets)
    return parse_config(f'[deck]\nname = "shop"\nenvironment = "{environment}"\n{services}{extra}', "test.toml", {})


def mixed_probes() -> list[FakeProbe]:
    """One target in each status, with the values a real HTTP probe would carry."""
    return [
        FakeProbe("web", [Outcome(Status.OK, "HTTP 200 in 12ms", {"latency_seconds": 0.012, "http_status": 200,
                                                                  "url": "http://127.0.0.1:8080/health"})]),
        FakeProbe("payments", [Outcome(Status.WARN, "slow (≥ 500ms)",
                                       {"latency_seconds": 0.65, "http_status": 200})]),
        FakeProbe("checkout", [Outcome(Status.CRIT, "HTTP 503, expected 200",
                                       {"latency_seconds": 0.004, "http_status": 503})]),
        FakeProbe("search", [Outcome(Status.CRIT, "connection refused")]),
        FakeProbe("auth", [Outcome(Status.UNKNOWN, "timeout after 2s")]),
    ]


def app_with(probes: list[FakeProbe], environment: str = "production", allow_actions: bool = False,
             extra: str = "") -> LaunchdeckApp:
    return make_app(config_for([p.target for p in probes], environment, extra), probes=probes,
                    clock=FixedClock(), allow_actions=allow_actions)


async def wait_until(pilot, predicate, timeout: float = 5.0) -> None:
    """Pause the pilot until `predicate()` holds; fail with a clear message otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await pilot.pause(0.02)


def traffic_probes() -> list[FakeProbe]:
    """The Traffic panel in every state, with the values the real sources carry."""
    def outcome(status, reason, ratio, p95, rate):
        return [Outcome(status, reason, {"error_ratio": ratio, "p95_seconds": p95, "rate_rps": rate})]

    return [
        FakeProbe("api", outcome(Status.OK, "errors 0.42%, p95 123ms, 41.2 req/s", 0.0042, 0.123, 41.2),
                  panel="traffic"),
        FakeProbe("checkout", outcome(Status.WARN, "error ratio > 1% for 3m", 0.021, 0.26, 12.5),
                  panel="traffic"),
        FakeProbe("payments", outcome(Status.CRIT, "error ratio > 5% for 6m", 0.075, 0.61, 8.0),
                  panel="traffic"),
        FakeProbe("search", outcome(Status.UNKNOWN, "scrape failed: connection refused", None, None, None),
                  panel="traffic"),
        FakeProbe("web", outcome(Status.WARN, "no traffic in the last 5m", None, None, 0.0), panel="traffic"),
    ]


def app_with_traffic() -> LaunchdeckApp:
    services = mixed_probes()[:3]
    traffic = traffic_probes()
    extra = "".join(f'[[traffic]]\nname = "{p.target}"\nsource = "scrape"\nscrape_url = "http://127.0.0.1:9/metrics"\n'
                    for p in traffic)
    return make_app(config_for([p.target for p in services], extra=extra), probes=services + traffic,
                    clock=FixedClock())
