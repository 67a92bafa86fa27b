"""A recorded session replayed shows what the live engine showed, at the same times; bad recordings."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from launchdeck.cli import main
from launchdeck.core.config import parse_config
from launchdeck.core.model import FixedClock, Outcome, Status
from launchdeck.engine.engine import Engine
from launchdeck.engine.notices import ReadingNotice
from launchdeck.engine.recorder import Recorder
from launchdeck.engine.replay import RecordingError, ReplayEngine, load_recording
from tests.fakes import FakeProbe

CONFIG = parse_config('[deck]\nname = "shop"\n', "test.toml", {})


def _outcomes(steps: int, seed: int) -> list[Outcome]:
    """A demo-like story: latency that moves every poll, a breach and a recovery."""
    story = []
    for step in range(steps):
        latency = 0.010 + ((step * 7 + seed) % 13) / 1000
        if 8 <= step < 14 and seed == 1:
            story.append(Outcome(Status.CRIT, "HTTP 503, expected 200", {"latency_seconds": latency,
                                                                         "http_status": 503}))
        elif 10 <= step < 12 and seed == 2:
            story.append(Outcome(Status.WARN, "slow (≥ 500ms)", {"latency_seconds": 0.6, "http_status": 200}))
        else:
            story.append(Outcome(Status.OK, f"HTTP 200 in {latency * 1000:.0f}ms",
                                 {"latency_seconds": latency, "http_status": 200}))
    return story


def record_session(path, steps: int = 20, numbers_every: float = 0.0):
    """A real Engine polled `steps` times 5 s apart on a FixedClock, recorded; the live snapshots by time."""
    clock = FixedClock()
    probes = [FakeProbe(name, _outcomes(steps, seed)) for seed, name in enumerate(["web", "checkout", "search"])]
    engine = Engine(CONFIG, probes, clock)
    recorder = Recorder(path, engine.scrub, numbers_every=numbers_every, clock=clock)
    engine.subscribe(recorder.listener)
    recorder.start(engine.events)
    live = {}
    for _ in range(steps):
        asyncio.run(engine.run_once())
        live[clock.now()] = engine.snapshot()
        clock.advance(5)
    recorder.close()
    return live, engine


def shows(snapshot) -> dict:
    return {key: (r.status, r.reason, dict(r.values)) for key, r in snapshot.readings.items()}


def test_a_recorded_session_replays_the_same_readings_at_the_same_times(tmp_path):
    live, engine = record_session(tmp_path / "rec.jsonl")
    recording = load_recording(tmp_path / "rec.jsonl")
    assert recording.skipped == ()
    replay = ReplayEngine(recording, CONFIG)
    for when, shown in sorted(live.items()):
        replay.seek(when)
        replayed = replay.snapshot()
        # what a row shows: an identical reading is not written again, so only its time may be older
        assert shows(replayed) == shows(shown), when
        assert replayed.verdict == shown.verdict
        assert {k: t.since for k, t in replayed.tracks.items()} == {k: t.since for k, t in shown.tracks.items()}
    # and the events: every breach and recovery the engine logged, at its time
    assert [(e.time, e.kind, e.text) for e in replay.events.since(0)] == \
        [(e.time, e.kind, e.text) for e in engine.events.since(0)]


def test_with_numbers_thinned_out_statuses_and_reasons_still_match_at_every_time(tmp_path):
    live, _ = record_session(tmp_path / "rec.jsonl", numbers_every=30)
    replay = ReplayEngine(load_recording(tmp_path / "rec.jsonl"), CONFIG)
    lines = (tmp_path / "rec.jsonl").read_text().splitlines()
    assert sum('"type":"reading"' in line for line in lines) < 3 * 20  # fewer lines than polls
    for when, shown in sorted(live.items(), reverse=True):  # backwards too: the state is rebuilt
        replay.seek(when)
        got = {k: (r.status, r.observed_at) for k, r in replay.snapshot().readings.items()}
        want = {k: r.status for k, r in shown.readings.items()}
        assert {k: s for k, (s, _) in got.items()} == want, when
        assert replay.snapshot().verdict.status == shown.verdict.status


def test_the_cursor_steps_jumps_to_incidents_and_says_where_it_is(tmp_path):
    record_session(tmp_path / "rec.jsonl")
    replay = ReplayEngine(load_recording(tmp_path / "rec.jsonl"), CONFIG)
    told = []
    replay.subscribe(told.append)
    start = replay.cursor
    assert replay.status_line() == "REPLAY 12:00:00 of 12:00–12:01"
    breach = replay.next_incident()
    assert breach == start + timedelta(seconds=40)  # checkout's 503 from its 9th poll
    assert replay.snapshot().readings[("services", "checkout")].status is Status.CRIT
    assert any(isinstance(n, ReadingNotice) and n.reading.target == "checkout" and n.reading.status is Status.CRIT
               for n in told)
    slow = replay.next_incident()
    assert slow == start + timedelta(seconds=50)  # search: ok → warn is a breach too
    assert replay.next_incident() is None and replay.cursor == slow
    replay.seek(start + timedelta(minutes=5))
    assert replay.cursor == replay.end_time  # kept within the recording
    assert replay.previous_incident() == slow and replay.previous_incident() == breach
    assert replay.previous_incident() is None
    replay.step(-3600)
    assert replay.cursor == start and replay.snapshot().readings[("services", "checkout")].status is Status.OK


def test_corrupt_lines_are_listed_with_their_numbers_and_skipped(tmp_path):
    path = tmp_path / "rec.jsonl"
    record_session(path, steps=4)
    good = path.read_text().splitlines()
    bad = [*good[:2], "{not json", "[1, 2]", json.dumps({"type": "reading", "t": "2026-01-01T12:00:00+00:00"}),
           json.dumps({"type": "weird"}), *good[2:], '{"type": "event", "t": "yesterday", "panel"']
    path.write_text("\n".join(bad))
    recording = load_recording(path)
    assert [number for number, _ in recording.skipped] == [3, 4, 5, 6, len(bad)]
    assert "missing field" in recording.skipped[2][1] and "unknown type" in recording.skipped[3][1]
    assert len(recording.readings) == sum('"type":"reading"' in line for line in good)


@pytest.mark.parametrize("make, words", [
    (lambda tmp: tmp / "missing.jsonl", "no such recording"),
    (lambda tmp: tmp, "is a directory"),
    (lambda tmp: (tmp / "link.jsonl").symlink_to(tmp / "elsewhere.jsonl") or tmp / "link.jsonl", "symbolic link"),
])
def test_a_path_that_is_not_a_recording_is_one_clear_error(tmp_path, make, words):
    path = make(tmp_path)
    with pytest.raises(RecordingError, match=words):
        load_recording(path)
    result = CliRunner().invoke(main, ["replay", str(path), "--check"])
    assert result.exit_code == 2
    assert words in result.output and len(result.output.strip().splitlines()) == 1


def test_replay_cli_reports_corrupt_lines_and_goes_on(tmp_path):
    path = tmp_path / "rec.jsonl"
    record_session(path, steps=3)
    path.write_text(path.read_text() + "{torn line\n")
    lines = len(path.read_text().splitlines())
    result = CliRunner().invoke(main, ["replay", str(path), "--check"])
    assert result.exit_code == 0, result.output
    assert f"line {lines}: skipped" in result.output
    assert "3 targets" in result.output and "12:00" in result.output


def test_a_replay_opens_on_the_first_full_picture(tmp_path):
    from launchdeck.core.model import Reading

    start = FixedClock().now()
    recorder = Recorder(tmp_path / "rec.jsonl").start()
    for target, second in (("web", 0), ("web", 5), ("db", 20), ("web", 40), ("late-container", 300)):
        recorder.observe_reading(Reading("services", target, Status.OK if second != 5 else Status.WARN,
                                         f"seen {target} {'abc'[second % 3]}", {},
                                         start + timedelta(seconds=second), 0.0))
    recorder.close()
    replay = ReplayEngine(load_recording(tmp_path / "rec.jsonl"), CONFIG)
    assert replay.cursor == start + timedelta(seconds=20)  # db's first reading: every early row has one
    assert set(replay.snapshot().readings) == {("services", "web"), ("services", "db")}
    assert replay.start_time == start and replay.status_line() == "REPLAY 12:00:20 of 12:00–12:05"


def test_a_long_jump_back_gives_the_same_state_as_stepping_there(tmp_path, monkeypatch):
    live, _ = record_session(tmp_path / "rec.jsonl", steps=30)
    recording = load_recording(tmp_path / "rec.jsonl")
    middle = sorted(live)[17]
    stepped = ReplayEngine(recording, CONFIG)
    stepped.seek(middle)  # forward, a few readings at a time: one by one
    monkeypatch.setattr("launchdeck.engine.replay.FEED_ONE_BY_ONE", 2)  # every feed takes the per-target path
    jumped = ReplayEngine(recording, CONFIG)
    jumped.seek(jumped.end_time)
    jumped.seek(middle)
    a, b = stepped.snapshot(), jumped.snapshot()
    assert dict(a.readings) == dict(b.readings) and a.verdict == b.verdict
    assert dict(a.tracks) == dict(b.tracks)  # since when and flaps from every reading, not only the newest
    assert any(t.flaps for t in b.tracks.values())


def test_replay_cli_says_a_bad_time_and_an_empty_recording_in_one_line(tmp_path):
    path = tmp_path / "rec.jsonl"
    record_session(path, steps=2)
    bad = CliRunner().invoke(main, ["replay", str(path), "--at", "half past", "--check"])
    assert bad.exit_code == 2 and "--at" in bad.output
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"t": "2026-01-01T12:00:00+00:00", "type": "meta", "what": "start"}\n')
    said = CliRunner().invoke(main, ["replay", str(empty)])
    assert said.exit_code == 2 and "nothing to replay" in said.output
    assert "0 readings of 0 targets, 0 events" in said.output
