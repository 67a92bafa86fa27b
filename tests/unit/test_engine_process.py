"""The pieces of the engine's process mode that need no server: the pipe's framing and what crosses
it, the mode's validation, and what a lost collection does to the rows (engine/worker*.py)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from types import MappingProxyType

import pytest

from launchdeck.core.config import parse_config
from launchdeck.core.model import FixedClock, Outcome, Reading, Status
from launchdeck.engine.engine import Engine
from launchdeck.engine.notices import ProblemNotice, ReadingNotice
from launchdeck.engine.worker_channel import Channel, plain, reading_from_wire, reading_to_wire
from tests.fakes import FakeHost, FakeProbe, container


def _config():
    return parse_config('[[services]]\nname = "web"\nurl = "http://127.0.0.1:9/"\n', "t.toml", {})


def test_a_reading_crosses_the_pipe_whole_nested_read_only_values_included():
    at = FixedClock().now()
    reading = Reading("containers", "local/web-1", Status.WARN, "restarted 2×",
                      {"restarts": 2, "ports": [80, 443], "labels": MappingProxyType({"tier": "front"})}, at, 0.012)
    back = reading_from_wire(reading_to_wire(reading))
    assert back == reading
    assert back.values["labels"] == {"tier": "front"} and back.status is Status.WARN


def test_plain_turns_read_only_mappings_into_dicts_and_keeps_the_rest():
    nested = MappingProxyType({"a": MappingProxyType({"b": [MappingProxyType({"c": 1})]}), "t": (1, 2)})
    assert plain(nested) == {"a": {"b": [{"c": 1}]}, "t": (1, 2)}
    assert type(plain(nested)["a"]) is dict


async def test_frames_arrive_whole_and_in_order_and_the_end_of_file_is_none():
    ours, theirs = socket.socketpair()
    sender, receiver = Channel(ours), Channel(theirs)
    big = "x" * 300_000  # larger than one socket buffer: sent and read in many chunks
    sending = asyncio.gather(sender.send("first", 1), sender.send("big", big), sender.send("last"))
    assert await receiver.receive() == ("first", 1)
    assert await receiver.receive() == ("big", big)
    assert await receiver.receive() == ("last",)
    await sending
    sender.close()
    assert await receiver.receive() is None
    receiver.close()


def test_an_unknown_mode_is_refused_in_words():
    with pytest.raises(ValueError, match="engine mode 'fork'"):
        Engine(_config(), [], mode="fork")


def test_a_lost_collection_is_told_and_turns_every_row_unknown_fan_out_rows_included():
    clock = FixedClock()
    web, host = FakeProbe("web"), FakeHost("local", batches=[[container("web-1")]])
    engine = Engine(_config(), [web, host], clock)
    seen: list = []
    engine.subscribe(seen.append)
    engine.collected(("services", "web"), [Reading("services", "web", Status.OK, "HTTP 200", {}, clock.now(), 0.01)], [])
    engine.collected(("containers", "local"), [Reading("containers", "local/web-1", Status.OK, "running", {},
                                                        clock.now(), 0.01)], [])
    engine.collection_lost("killed by SIGKILL")
    problems = [n for n in seen if isinstance(n, ProblemNotice)]
    assert [p.title for p in problems] == ["engine process stopped"] and "SIGKILL" in problems[0].text
    latest = engine.snapshot().readings
    assert {key: r.status for key, r in latest.items()} == {
        ("services", "web"): Status.UNKNOWN, ("containers", "local"): Status.UNKNOWN,
        ("containers", "local/web-1"): Status.UNKNOWN}
    assert all("killed by SIGKILL" in r.reason for r in latest.values())
    assert engine.snapshot().verdict.status is Status.UNKNOWN  # no calm screen: the verdict says no-go
    assert len([n for n in seen if isinstance(n, ReadingNotice)]) == 2 + 3


def test_container_events_handed_over_become_events_once():
    engine = Engine(_config(), [], FixedClock())
    at = FixedClock().now()
    event = {"time": at, "host": "local", "container": "web-1", "action": "die", "detail": "exit 137"}
    engine.collected(("containers", "local"), [], [event])
    assert [(e.kind, e.target, e.severity) for e in engine.events.since(0)] == [
        ("container", "local/web-1", Status.WARN)]


def test_an_orphan_worker_stops_at_once():
    """Started for a parent that is not its parent (that one died before PR_SET_PDEATHSIG took hold)."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        proc = subprocess.run([sys.executable, "-m", "launchdeck.engine.worker", str(theirs.fileno()), "1"],
                              pass_fds=(theirs.fileno(),), timeout=30, capture_output=True)
    assert proc.returncode == 1, proc.stderr


async def test_thread_mode_hands_a_probe_error_over_as_an_unknown_reading():
    probe = FakeProbe("web", [Outcome(Status.OK)], error=RuntimeError("boom"))
    engine = Engine(_config(), [probe], FixedClock())
    snapshot = await engine.run_once()
    reading = snapshot.readings[("services", "web")]
    assert reading.status is Status.UNKNOWN and "RuntimeError: boom" in reading.reason
