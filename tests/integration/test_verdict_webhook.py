"""The Go/No-Go reaches the [notify] webhook from a real engine polling a real HTTP service: the
baseline once every target is read, a change once it has held, and one message however many
dashboards watch the same ledger."""

from __future__ import annotations

import time

import pytest

from launchdeck.core.config import parse_config
from launchdeck.engine.engine import Engine
from launchdeck.probes import build_probes
from tests.integration.test_actions_webhook import server  # noqa: F401  (the fixture: health GET, webhook POST)

pytestmark = pytest.mark.integration


def engine_for(tmp_path, port: int) -> Engine:
    text = (f'[deck]\nname = "shop"\nenvironment = "production"\nrefresh = "200ms"\n'
            f'[[services]]\nname = "web"\nurl = "http://127.0.0.1:{port}/health"\ninterval = "200ms"\n'
            f'[notify]\nwebhook = "http://127.0.0.1:{port}/hook"\nhold = "600ms"\n')
    config = parse_config(text, str(tmp_path / "launchdeck.toml"), {})
    return Engine(config, build_probes(config))


def posts(handler, count: int, within: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + within
    while len(handler.received) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return [body for path, _, body in handler.received if path == "/hook"]


def test_the_verdict_is_posted_once_settled_and_by_one_dashboard(tmp_path, server):  # noqa: F811
    _, handler = server
    engines = [engine_for(tmp_path, server[0].server_port) for _ in range(2)]  # two dashboards, one ledger
    for engine in engines:
        engine.start()
    try:
        first = posts(handler, 1)
        assert [p["launchdeck"]["verdict"] for p in first] == ["go"]
        assert first[0]["text"] == "shop (production): watching: GO"
        handler.health_status = 503
        second = posts(handler, 2)
        assert len(second) == 2, second
        assert second[1]["text"].startswith("shop (production): GO → NO-GO\n• services/web crit: HTTP 503")
        time.sleep(1.0)  # both engines keep polling the same NO-GO
        assert len(posts(handler, 3, within=0.1)) == 2, "one message per change, not one per dashboard"
    finally:
        for engine in engines:
            engine.stop()
