"""The Containers panel: rows follow the containers, sort and filter by key, a dead host says so."""

from launchdeck.tui.app import make_app
from launchdeck.core.model import FixedClock, Status
from launchdeck.tui.widgets.containers import ContainersPanel
from tests.fakes import FakeHost, container
from tests.tui.helpers import config_for, wait_until


def app_for(host: FakeHost):
    config = config_for([], extra='[[containers]]\nhost = "local"\n')
    return make_app(config, probes=[host], clock=FixedClock())


def order(app) -> list[str]:
    """The rows the panel draws, top to bottom."""
    return [r.target for r in app.dashboard.query_one(ContainersPanel).lines.rows]


async def test_rows_appear_sort_filter_and_vanish_with_their_containers():
    host = FakeHost("local", interval=3600, batches=[
        [container("web", cpu_percent=5.0), container("db", Status.CRIT, "unhealthy: pg_isready failed",
                                                      cpu_percent=40.0, health="unhealthy"),
         container("cache", Status.WARN, "cpu 75% ≥ 70%", cpu_percent=75.0, restarts=2)],
        [container("web", cpu_percent=5.0), container("db", cpu_percent=1.0)],
    ])
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: len(order(app)) == 3)
        await pilot.pause()
        assert order(app) == ["local/cache", "local/db", "local/web"]
        panel = app.dashboard.query_one(ContainersPanel)
        rows = {t: r.plain() for t, r in app.dashboard.query_one(ContainersPanel).rows.items()}
        assert "unhealthy: pg_isready failed" in rows["local/db"] and "↻2" in rows["local/cache"]
        assert "50M/512M 10%" in rows["local/web"]
        panel.focus()
        await pilot.press("s")  # sort by cpu
        await pilot.pause()
        assert panel.sort == "cpu" and order(app) == ["local/cache", "local/db", "local/web"]
        await pilot.press("s")  # memory: all equal, then by name
        await pilot.press("s")  # state: crit first
        await pilot.pause()
        assert panel.sort == "state" and order(app)[0] == "local/db"
        await pilot.press("slash", *"we")
        await pilot.pause()
        assert order(app) == ["local/web"]
        await pilot.press("escape")
        await pilot.pause()
        assert len(order(app)) == 3
        app.clock.advance(5)
        await pilot.press("r")  # next poll, 5 s later: cache is gone
        await wait_until(pilot, lambda: "local/cache" not in order(app))
        assert sorted(order(app)) == ["local/db", "local/web"]


async def test_a_dead_host_is_one_clear_line_and_the_rows_recover():
    host = FakeHost("local", interval=3600, batches=[
        ConnectionRefusedError("docker engine unreachable at unix:///var/run/docker.sock: connection refused"),
        [container("web")],
    ])
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        panel = app.dashboard.query_one(ContainersPanel)
        await wait_until(pilot, lambda: "unreachable" in str(panel._problems["local"].render()))
        await pilot.press("r")
        await wait_until(pilot, lambda: order(app) == ["local/web"], timeout=15)
        assert str(panel._problems["local"].render()) == ""


def _unix_server(path, answer: bytes | None):
    """A Unix socket that answers the first request with `answer` (None: accepts and never answers)."""
    import socket
    import threading

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    held = []

    def serve() -> None:
        connection, _ = server.accept()
        held.append(connection)
        connection.recv(1024)
        if answer is not None:
            connection.sendall(answer)
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    return server, held


def test_the_demo_watches_the_local_docker_engine_only_when_it_answers_a_ping(tmp_path):
    import time

    from launchdeck.core.config import parse_config
    from launchdeck.demo.stack import DemoStack, docker_answers

    engine, _ = _unix_server(tmp_path / "docker.sock", b"HTTP/1.1 200 OK\r\nApi-Version: 1.47\r\n\r\nOK")
    silent, held = _unix_server(tmp_path / "silent.sock", None)
    refused = _unix_server(tmp_path / "teapot.sock", b"HTTP/1.1 418 I'm a teapot\r\n\r\n")[0]
    try:
        assert docker_answers(str(tmp_path / "docker.sock")) is True
        assert docker_answers(str(tmp_path / "teapot.sock")) is False, "something else on the socket"
        assert docker_answers(str(tmp_path / "missing.sock")) is False
        started = time.monotonic()
        assert docker_answers(str(tmp_path / "silent.sock"), timeout=0.3) is False
        assert time.monotonic() - started < 2, "a hung engine does not hold up the demo's start"
    finally:
        for server in (engine, silent, refused, *held):
            server.close()
    stack = DemoStack()
    for service in stack.services.values():
        service.port = 9  # as if started: config_text only writes the addresses
    with_engine = parse_config(stack.config_text(docker=True), "demo.toml", {})
    assert [c.host for c in with_engine.containers] == ["local"]
    assert parse_config(stack.config_text(docker=False), "demo.toml", {}).containers == []


async def test_a_host_without_readings_yet_says_so_on_one_line_then_shows_its_containers():
    from launchdeck.core.model import Outcome
    from tests.fakes import FakeProbe
    from tests.tui.helpers import app_with

    probe = FakeProbe("local/web", [Outcome(Status.OK, "running", {"name": "web", "host": "local"})],
                      panel="containers", delay=3.0)
    app = app_with([FakeProbe("api"), probe], extra='[[containers]]\nhost = "local"\n')
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.dashboard.query_one(ContainersPanel)
        await pilot.pause()
        assert panel._empty.display and "waiting for the first poll of local" in str(panel._empty.render())
        await wait_until(pilot, lambda: order(app) == ["local/web"], timeout=15)
        assert not panel._empty.display
