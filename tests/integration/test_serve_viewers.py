"""`launchdeck serve` as a process, without a browser: one engine however many viewers, the cap,
SIGTERM with streams open, the loopback default, the token's sources, and the refusals."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import pytest

from tests.integration.serve_helpers import (
    TOKEN,
    EventStream,
    Served,
    Target,
    write_config,
)

pytestmark = pytest.mark.integration

WINDOW = 6.0  # s of counting; at 1 s intervals two services see ~12 requests


@pytest.fixture
def target():
    target = Target()
    yield target
    target.stop()


def _requests_during(target: Target, seconds: float) -> int:
    start = target.count()
    time.sleep(seconds)
    return target.count() - start


def test_ten_viewers_are_one_engine_not_ten(tmp_path, target):
    served = Served(write_config(tmp_path, target, checklists=False))
    streams = []
    try:
        streams.append(EventStream(served))
        streams[0].start()
        one = _requests_during(target, WINDOW)
        for _ in range(10):
            stream = EventStream(served)
            stream.start()
            streams.append(stream)
        eleven = _requests_during(target, WINDOW)
        assert all(stream.status == 200 for stream in streams)
        assert all(stream.events >= 1 for stream in streams)  # every viewer is fed ...
        assert one >= 4  # (the engine really polls the target)
        # ... from one engine: eleven engines would have sent ~11x the requests
        assert eleven <= one * 1.5 + 3, (one, eleven)
    finally:
        for stream in streams:
            stream.close()
        served.stop()


def test_the_viewer_over_the_cap_gets_503(tmp_path, target):
    served = Served(write_config(tmp_path, target, checklists=False), "--max-viewers", "3")
    streams = [EventStream(served) for _ in range(3)]
    try:
        assert [stream.status for stream in streams] == [200, 200, 200]
        over = served.get(f"/events?token={TOKEN}")
        assert over.status == 503
        assert b"3 viewers" in over.read()
        streams[0].close()
        for _ in range(100):  # its place is given back once the server sees it gone
            again = served.get(f"/events?token={TOKEN}")
            if again.status == 200:
                break
            time.sleep(0.05)
        assert again.status == 200
    finally:
        for stream in streams:
            stream.close()
        served.stop()


def test_sigterm_with_viewers_open_closes_every_stream_and_exits_cleanly(tmp_path, target):
    served = Served(write_config(tmp_path, target, checklists=False))
    streams = [EventStream(served) for _ in range(5)]
    for stream in streams:
        stream.start()
    time.sleep(1.5)
    served.signal(signal.SIGTERM)
    assert served.process.wait(timeout=10) == 0  # how fast: bench/serve_viewers.py
    for stream in streams:
        assert stream.ended.wait(5)
        assert stream.closing  # each page was told, not left waiting for a timeout
    out, err = served.stop()
    assert out.count(TOKEN) == 1 and TOKEN not in err


def test_refusals_from_the_real_process(tmp_path, target):
    served = Served(write_config(tmp_path, target, checklists=False))
    try:
        assert served.get("/").status == 401
        assert served.get("/events").status == 401
        assert served.get(f"/?token={TOKEN}", {"Host": f"rebind.example:{served.port}"}).status == 403
        assert served.get(f"/events?token={TOKEN}", {"Origin": "https://evil.example"}).status == 403
        for method in ("POST", "PUT", "DELETE"):
            assert served.get(f"/?token={TOKEN}", method=method).status == 405
        page = served.get(f"/?token={TOKEN}")
        assert page.status == 200
        assert page.getheader("X-Frame-Options") == "DENY" and page.getheader("Cache-Control") == "no-store"
    finally:
        served.stop()


def test_a_random_token_when_none_is_given_and_the_environment_token_otherwise(tmp_path, target):
    config = write_config(tmp_path, target, checklists=False)
    first, second = Served(config, token=""), Served(config, token="")
    from_env = Served(config, token="", env={"LAUNCHDECK_TOKEN": "from-the-environment-0123456789"})
    try:
        tokens = [re.search(r"\?token=(\S+)$", s.url).group(1) for s in (first, second)]
        assert tokens[0] != tokens[1] and all(len(t) >= 32 for t in tokens)
        assert first.get(f"/?token={tokens[0]}").status == 200
        assert first.get(f"/?token={tokens[1]}").status == 401
        assert from_env.url.endswith("?token=from-the-environment-0123456789")
    finally:
        for served in (first, second, from_env):
            served.stop()


def test_only_loopback_unless_allowed_and_then_with_a_warning(tmp_path, target):
    config = write_config(tmp_path, target, checklists=False)
    refused = subprocess.run([sys.executable, "-m", "launchdeck", "serve", "--config", str(config),
                              "--host", "0.0.0.0", "--token", TOKEN], capture_output=True, text=True, timeout=30, check=False)
    assert refused.returncode == 2
    assert "--allow-remote" in refused.stderr and TOKEN not in refused.stdout
    allowed = Served(config, "--host", "0.0.0.0", "--allow-remote")
    try:
        assert allowed.get(f"/?token={TOKEN}").status == 200  # loopback names still answer on a wildcard bind
    finally:
        _, err = allowed.stop()
    assert "WARNING" in err and "plain HTTP" in err
