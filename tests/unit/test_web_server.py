"""The browser view's server through real HTTP on loopback (aiohttp's test server): what a request
without the token, with another Host or Origin, or with a write method gets; the viewer cap; the
headers; one summary for every viewer; the token never in the access log."""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from launchdeck.core.config import parse_config
from launchdeck.core.model import Reading, Status
from launchdeck.engine.events import EventLog
from launchdeck.engine.notices import ReadingNotice
from launchdeck.engine.state import LiveState
from launchdeck.web.auth import make_guard
from launchdeck.web.feed import Hub, WallFeed
from launchdeck.web.server import SECURITY_HEADERS, make_web_app, runner_options

TOKEN = "unit-test-token-0123456789abcdef"
CONFIG = parse_config('[deck]\nname = "shop"\n[[services]]\nname = "api"\nurl = "http://127.0.0.1:9/h"\n')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _client(max_viewers: int = 20, hub: Hub | None = None) -> tuple[TestClient, Hub, int]:
    port = _free_port()
    hub = hub or Hub(heartbeat=60)
    app = make_web_app(hub, make_guard(TOKEN, "127.0.0.1", port), max_viewers)
    server = TestServer(app, host="127.0.0.1", port=port)
    options = runner_options()
    assert options.pop("handler_cancellation") is True  # the test server sets it itself
    await server.start_server(**options)  # run as `launchdeck serve` runs it: our access log
    client = TestClient(server)
    await client.start_server()
    return client, hub, port


async def _first_event(response: aiohttp.ClientResponse) -> bytes:
    data = b""
    while b"event: wall" not in data or not data.endswith(b"\n\n"):
        data += await asyncio.wait_for(response.content.readany(), 5)
    return data


async def test_no_token_no_page_no_stream_no_file():
    client, _, _ = await _client()
    async with client:
        for path in ("/", "/events", "/wall.js", "/wall.css", "/no-such-path"):
            response = await client.get(path)
            assert response.status == 401, path
            assert "verdict" not in await response.text()
        assert (await client.get("/?token=wrong-" + TOKEN)).status == 401
        assert (await client.get("/events", headers={"Authorization": "Bearer nope"})).status == 401


async def test_token_in_the_url_opens_the_page_and_sets_a_strict_httponly_cookie():
    client, _, port = await _client()
    async with client:
        response = await client.get(f"/?token={TOKEN}")
        assert response.status == 200
        assert "verdict-word" in await response.text()
        cookie = response.headers["Set-Cookie"]
        assert f"launchdeck_token_{port}={TOKEN}" in cookie
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        # the page's own requests then carry the cookie: script, style and stream open without ?token=
        script = await client.get("/wall.js")
        assert script.status == 200 and script.content_type == "text/javascript"
        assert "innerHTML" not in await script.text()
        stream = await client.get("/events")
        assert stream.status == 200 and stream.content_type == "text/event-stream"
        stream.close()


async def test_every_response_carries_the_security_headers_even_a_refusal():
    client, _, _ = await _client()
    async with client:
        for response in (await client.get("/"), await client.get(f"/?token={TOKEN}"),
                         await client.post(f"/?token={TOKEN}")):
            for name, value in SECURITY_HEADERS.items():
                assert response.headers.get(name) == value, (response.status, name)
            assert response.headers["Server"] == "launchdeck"
        csp = SECURITY_HEADERS["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
async def test_write_methods_are_405_everywhere_even_with_the_token(method):
    client, hub, _ = await _client()
    async with client:
        for path in ("/", "/events", "/refresh", "/sign", "/no-such-path"):
            response = await client.request(method, f"{path}?token={TOKEN}", data=b"key=r")
            assert response.status == 405, (method, path)
            assert response.headers["Allow"] == "GET, HEAD"
        assert hub.published == 0


async def test_a_host_that_is_not_ours_is_refused_even_with_the_token():
    client, _, port = await _client()
    async with client:
        rebinding = await client.get(f"/?token={TOKEN}", headers={"Host": f"attacker.example:{port}"})
        assert rebinding.status == 403
        assert (await client.get(f"/?token={TOKEN}", headers={"Host": f"localhost:{port}"})).status == 200


async def test_a_cross_site_origin_cannot_open_the_stream():
    client, _, port = await _client()
    async with client:
        for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
            response = await client.get(f"/events?token={TOKEN}", headers=headers)
            assert response.status == 403, headers
        navigate = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
        assert (await client.get(f"/?token={TOKEN}", headers=navigate)).status == 200  # a link in a chat
        own = await client.get(f"/events?token={TOKEN}", headers={"Origin": f"http://127.0.0.1:{port}"})
        assert own.status == 200
        own.close()


async def test_the_viewer_after_the_cap_gets_503_and_a_closed_one_frees_its_place():
    client, _, _ = await _client(max_viewers=2)
    async with client:
        assert (await client.head(f"/events?token={TOKEN}")).status == 200
        first = await client.get(f"/events?token={TOKEN}")
        second = await client.get(f"/events?token={TOKEN}")
        await _first_event(first)
        await _first_event(second)
        third = await client.get(f"/events?token={TOKEN}")
        assert third.status == 503 and third.headers.get("Retry-After")
        assert (await client.head(f"/events?token={TOKEN}")).status == 503  # what a refused page asks
        assert (await client.head("/events")).status == 401
        first.close()
        for _ in range(100):  # the server notices the closed stream (handler cancellation)
            again = await client.get(f"/events?token={TOKEN}")
            if again.status == 200:
                break
            await asyncio.sleep(0.05)
        assert again.status == 200
        again.close()
        second.close()


async def test_every_viewer_gets_the_same_summary_and_a_closing_event_at_shutdown():
    client, hub, _ = await _client()
    async with client:
        streams = [await client.get(f"/events?token={TOKEN}") for _ in range(5)]
        for stream in streams:
            await _first_event(stream)
        hub.publish('{"verdict": "go", "deck": "<b>shop</b>"}')
        received = [await _first_event(stream) for stream in streams]
        assert all(b'"verdict": "go"' in data for data in received)
        assert len({data for data in received}) == 1  # one message, built once, for all
        hub.close()
        for stream in streams:
            rest = b""
            while not stream.content.at_eof():
                rest += await asyncio.wait_for(stream.content.readany(), 5)
            assert b"event: closing" in rest


async def test_the_token_is_never_in_the_access_log(caplog):
    client, _, _ = await _client()
    caplog.set_level(logging.INFO)  # every logger: ours and aiohttp's
    async with client:
        await client.get(f"/?token={TOKEN}")
        await client.get(f"/?token={TOKEN}x")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "GET /" in logged  # the requests were logged ...
    assert TOKEN not in logged  # ... without the query string


class _Engine:
    """Only what WallFeed may touch: snapshot(), state.history, record_problem(), subscribe()."""

    def __init__(self) -> None:
        self.state = LiveState(EventLog())
        self.listeners = []
        self.problems = []

    def subscribe(self, listener):
        self.listeners.append(listener)

    def snapshot(self):
        return self.state.snapshot(datetime.now(UTC))

    def record_problem(self, title, text):
        self.problems.append((title, text))


async def test_the_feed_builds_one_summary_per_burst_of_readings_whoever_watches():
    engine, sent = _Engine(), []
    feed = WallFeed(engine, CONFIG, sent.append, min_gap=0.2)
    for n in range(50):  # fifty readings arrive together: one summary, not fifty
        reading = Reading("services", "api", Status.CRIT, f"HTTP 500 #{n}", {}, datetime.now(UTC), 0.01)
        track, verdict = engine.state.observe(reading)
        for listener in engine.listeners:
            listener(ReadingNotice(reading, track, verdict))
    await asyncio.sleep(0.4)
    assert feed.builds == 1 and len(sent) == 1
    assert '"status": "crit"' in sent[0] and "HTTP 500 #49" in sent[0]


def test_a_failing_summary_is_told_once_and_never_raised_into_the_engine():
    engine = _Engine()
    engine.snapshot = lambda: 1 / 0
    feed = WallFeed(engine, CONFIG, lambda text: None)
    assert feed.build_now() is None and feed.build_now() is None
    assert len(engine.problems) == 1 and "ZeroDivisionError" in engine.problems[0][1]


async def test_a_quiet_engine_still_sends_a_heartbeat_with_a_fresh_server_time():
    hub = Hub(heartbeat=0.1)
    client, _, _ = await _client(hub=hub)
    beat = asyncio.create_task(hub.beat())
    async with client:
        stream = await client.get(f"/events?token={TOKEN}")
        data = b""
        while data.count(b"event: wall") < 3:
            data += await asyncio.wait_for(stream.content.readany(), 5)
        assert data.startswith(b"retry: ")  # the browser's own reconnect is told to wait, too
        sent_at = [line for line in data.split(b"\n") if line.startswith(b"data: ")]
        assert len(set(sent_at)) == len(sent_at)  # each beat carries its own sent_at: a live server, old data
        stream.close()
    hub.close()
    await beat


def test_trends_are_sent_to_four_significant_digits():
    from launchdeck.web.feed import _compact

    document = {"figures": [{"key": "p95", "trend": [0.23235266555003176, 12.345678]}, {"key": "x", "trend": []}]}
    assert _compact(document)["figures"] == [{"key": "p95", "trend": [0.2324, 12.35]}, {"key": "x", "trend": []}]
