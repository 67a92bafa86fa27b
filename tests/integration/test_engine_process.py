"""The engine's collecting process (Engine(mode="process"), engine/worker.py) against a real loopback
HTTP server: it reads what the thread mode reads, dies with its parent however the parent goes, a
child killed mid-run is told and turns the rows unknown (then a new child takes over), and starting
and stopping leaves no process, zombie or file descriptor behind.

The server runs in a process of its own, so nothing here shares a GIL with it.
"""

from __future__ import annotations

import gc
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from launchdeck.core.config import parse_config
from launchdeck.core.model import Status
from launchdeck.engine.engine import Engine
from launchdeck.engine.notices import ProblemNotice, ReadingNotice
from launchdeck.probes import build_probes
from tests.loopback_http import loopback_http


@pytest.fixture(scope="module")
def server():
    with loopback_http() as base:
        yield base


def _refused_port() -> int:
    with socket.socket() as sock:  # bound then closed: nothing listens there
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _config(base: str, interval: str = "200ms", extra: str = ""):
    services = {
        "web": f'url = "{base}/health"\njson_field = "status"\njson_equals = "up"',
        "gone": f'url = "{base}/missing"',
        "refused": f'url = "http://127.0.0.1:{_refused_port()}/health"',
        "wrong": f'url = "{base}/health"\njson_field = "status"\njson_equals = "down"',
    }
    text = "".join(f'[[services]]\nname = "{name}"\n{spec}\ninterval = "{interval}"\ntimeout = "2s"\n{extra}'
                   for name, spec in services.items())
    return parse_config(text, "/tmp/launchdeck-process-test.toml", {})


def _wait(predicate, limit: float = 15.0, what: str = ""):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if (value := predicate()):
            return value
        time.sleep(0.02)
    raise AssertionError(f"not within {limit}s: {what}")


def _first_readings(config, mode: str) -> dict:
    engine = Engine(config, build_probes(config), mode=mode)
    engine.start()
    try:
        _wait(lambda: len(engine.snapshot().readings) == 4, what=f"a reading of every target ({mode})")
        return dict(engine.snapshot().readings)
    finally:
        engine.stop()


def _alive(pid: int) -> bool:
    """Running, not a zombie (a zombie of ours would be a leak; its state is Z)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_process_mode_reads_what_thread_mode_reads(server):
    config = _config(server)
    thread, process = _first_readings(config, "thread"), _first_readings(config, "process")
    assert thread.keys() == process.keys()
    for key in thread:
        mine, theirs = thread[key], process[key]
        assert (mine.status, mine.panel, mine.target) == (theirs.status, theirs.panel, theirs.target), key
        assert re.sub(r"\d+", "N", mine.reason) == re.sub(r"\d+", "N", theirs.reason), key
        assert mine.values.keys() == theirs.values.keys(), key
        assert {k: v for k, v in mine.values.items() if k != "latency_seconds"} == \
               {k: v for k, v in theirs.values.items() if k != "latency_seconds"}, key
    statuses = {key[1]: reading.status for key, reading in process.items()}
    assert statuses == {"web": Status.OK, "gone": Status.CRIT, "refused": Status.CRIT, "wrong": Status.CRIT}
    latency = process[("services", "web")].values["latency_seconds"]
    assert 0 < latency < 0.5  # timed where the request ran, in the child


def test_a_child_killed_mid_run_is_told_and_every_row_goes_unknown_then_a_new_child_polls(server):
    engine = Engine(_config(server), build_probes(_config(server)), mode="process")
    seen: list = []
    engine.subscribe(seen.append)
    engine.start()
    try:
        _wait(lambda: len(engine.snapshot().readings) == 4, what="every row read once")
        first = engine.worker.pid
        os.kill(first, signal.SIGKILL)
        _wait(lambda: any(isinstance(n, ProblemNotice) for n in seen), what="a problem notice")
        problem = next(n for n in seen if isinstance(n, ProblemNotice))
        assert problem.title == "engine process stopped" and "SIGKILL" in problem.text
        unknown = {n.reading.target: n.reading.reason for n in seen
                   if isinstance(n, ReadingNotice) and n.reading.status is Status.UNKNOWN}
        assert set(unknown) == {"web", "gone", "refused", "wrong"}, unknown
        assert all("killed by SIGKILL" in reason for reason in unknown.values())
        assert any(e.kind == "problem" and "SIGKILL" in e.text for e in engine.events.since(0))
        assert not _alive(first)  # reaped, not a zombie
        # a new child takes over: web is read ok again, from another process
        _wait(lambda: engine.worker.pid not in (None, first) and
              engine.snapshot().readings[("services", "web")].status is Status.OK, what="a new child polling")
        assert engine.worker.started_children == 2
    finally:
        engine.stop()


PARENT = r"""
import sys, time
from launchdeck.core.config import parse_config
from launchdeck.engine.engine import Engine
from launchdeck.probes import build_probes
from tests.loopback_http import loopback_http
config = parse_config('[[services]]\nname = "web"\nurl = "%s/health"\ninterval = "200ms"\n', "/tmp/p.toml", {})
engine = Engine(config, build_probes(config), mode="process")
engine.start()
while not engine.snapshot().readings:
    time.sleep(0.02)
print(engine.worker.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "SIGHUP"])
def test_the_child_dies_with_its_parent(server, how):
    """SIGKILL: no clean-up runs in the parent (PR_SET_PDEATHSIG and the pipe's end of file);
    SIGTERM; SIGHUP, as when the terminal vanishes."""
    parent = subprocess.Popen([sys.executable, "-c", PARENT % server], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        child = int(parent.stdout.readline())
        assert _alive(child)
        parent.send_signal(getattr(signal, how))
        parent.wait(10)
        _wait(lambda: not _alive(child), 10.0, f"the engine's process {child} gone after its parent got {how}")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stdout.close()


def _fds() -> set[str]:
    gc.collect()
    return set(os.listdir("/proc/self/fd"))


def test_start_and_stop_leave_no_process_zombie_or_fd(server):
    config = _config(server, interval="100ms")
    Engine(config, build_probes(config), mode="process")  # imports done before the count
    before, children = _fds(), []
    for _ in range(3):
        engine = Engine(config, build_probes(config), mode="process")
        engine.start()
        _wait(lambda: len(engine.snapshot().readings) == 4, what="every row read")
        children.append(engine.worker.pid)
        engine.stop(timeout=5)
        assert engine.worker.proc is None
    assert len(set(children)) == 3
    assert [pid for pid in children if Path(f"/proc/{pid}").exists()] == []  # gone and reaped (no zombie)
    assert _fds() - before == set(), textwrap.shorten(str({fd: os.path.realpath(f"/proc/self/fd/{fd}")
                                                          for fd in _fds() - before}), 300)
