"""The flight recorder: what it writes, when it does not, its bound and rotation, and its failures."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from launchdeck.core.config import parse_config
from launchdeck.core.model import Reading, Status
from launchdeck.core.redact import Scrubber
from launchdeck.engine.events import EventLog
from launchdeck.engine.recorder import RECORD_NAME, Recorder, record_path

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def reading(target="web", status=Status.OK, reason="HTTP 200", at=0.0, **values) -> Reading:
    return Reading("services", target, status, reason, values, T0 + timedelta(seconds=at), 0.01)


def letters(number: int) -> str:
    """A count as words do not mask: 0 → "a", 27 → "bb"."""
    return chr(97 + number % 26) * (1 + number // 26)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def readings_in(path: Path) -> list[dict]:
    return [line for line in lines(path) if line["type"] == "reading"]


def test_unchanged_readings_are_not_rewritten_and_changes_are(tmp_path):
    recorder = Recorder(tmp_path / "rec.jsonl").start()
    queued = [recorder.observe_reading(reading(at=5 * i, http_status=200)) for i in range(10)]
    recorder.observe_reading(reading(status=Status.CRIT, reason="HTTP 503", at=60, http_status=503))
    recorder.observe_reading(reading(status=Status.CRIT, reason="HTTP 503", at=65, http_status=503))
    recorder.observe_reading(reading(at=70, http_status=200))
    recorder.close()
    assert queued == [True] + [False] * 9
    written = readings_in(tmp_path / "rec.jsonl")
    assert [(r["status"], r["t"]) for r in written] == [
        ("ok", T0.isoformat()), ("crit", (T0 + timedelta(seconds=60)).isoformat()),
        ("ok", (T0 + timedelta(seconds=70)).isoformat())]
    assert written[1]["reason"] == "HTTP 503" and written[1]["values"] == {"http_status": 503}


def test_numbers_alone_are_written_at_most_every_interval(tmp_path):
    recorder = Recorder(tmp_path / "rec.jsonl", numbers_every=30).start()
    for second in range(0, 95, 5):  # latency moves on every poll, status and reason stay
        recorder.observe_reading(reading(at=second, latency_seconds=0.01 + second / 1000))
    recorder.close()
    times = [r["t"] for r in readings_in(tmp_path / "rec.jsonl")]
    assert times == [(T0 + timedelta(seconds=s)).isoformat() for s in (0, 30, 60, 90)]


def test_a_reason_or_list_that_moves_only_in_its_numbers_counts_as_numbers(tmp_path):
    recorder = Recorder(tmp_path / "rec.jsonl", numbers_every=30).start()
    for second in range(0, 65, 5):  # a container's "up 46s", a backup list's ages: every poll
        recorder.observe_reading(reading(reason=f"up {46 + second}s", at=second,
                                         backups=[{"name": "main.sql.gz", "age_seconds": 7200 + second}]))
    recorder.observe_reading(reading(reason="up 111s", at=66, backups=[{"name": "new.sql.gz", "age_seconds": 1}]))
    recorder.observe_reading(reading(status=Status.WARN, reason="restarting", at=67))
    recorder.close()
    assert [(r["t"][17:19], r["reason"]) for r in readings_in(tmp_path / "rec.jsonl")] == [
        ("00", "up 46s"), ("30", "up 76s"), ("00", "up 106s"), ("06", "up 111s"), ("07", "restarting")]


def test_a_changed_word_value_is_written_at_once(tmp_path):
    recorder = Recorder(tmp_path / "rec.jsonl").start()
    recorder.observe_reading(reading(at=0, image="shop:1.4"))
    recorder.observe_reading(reading(at=5, image="shop:1.5"))
    recorder.close()
    assert [r["values"]["image"] for r in readings_in(tmp_path / "rec.jsonl")] == ["shop:1.4", "shop:1.5"]


def test_events_of_the_log_are_recorded_once_each(tmp_path):
    events = EventLog()
    events.add(T0, "services", "web", "breach", Status.CRIT, "ok → crit: HTTP 503")
    recorder = Recorder(tmp_path / "rec.jsonl").start(events)
    events.add(T0 + timedelta(seconds=9), "services", "web", "recovery", Status.OK, "crit → ok")
    recorder.close()
    recorded = [line for line in lines(tmp_path / "rec.jsonl") if line["type"] == "event"]
    assert [(e["kind"], e["severity"], e["text"]) for e in recorded] == [
        ("breach", "crit", "ok → crit: HTTP 503"), ("recovery", "ok", "crit → ok")]


def test_secrets_are_scrubbed_from_reasons_values_and_events(tmp_path):
    events = EventLog()
    events.add(T0, "engine", "probe", "problem", Status.UNKNOWN, "login failed for s3cr3t-pass")
    recorder = Recorder(tmp_path / "rec.jsonl", Scrubber(["s3cr3t-pass"])).start(events)
    recorder.observe_reading(reading(status=Status.CRIT, reason="auth s3cr3t-pass refused",
                                     url="postgres://u:s3cr3t-pass@db/x"))
    recorder.close()
    text = (tmp_path / "rec.jsonl").read_text()
    assert "s3cr3t-pass" not in text and text.count("***") == 3


def test_the_file_is_bounded_and_rotated_keeping_k(tmp_path):
    path = tmp_path / "rec.jsonl"
    recorder = Recorder(path, max_bytes=4000, keep=2).start()
    for i in range(400):  # every reading a change: its reason carries the count, in letters
        recorder.observe_reading(reading(target=f"t{i % 3}", reason=f"reading {letters(i)}", at=i))
    recorder.close()
    assert path.exists() and path.with_name("rec.jsonl.1").exists() and path.with_name("rec.jsonl.2").exists()
    assert not path.with_name("rec.jsonl.3").exists()
    for file in (path, path.with_name("rec.jsonl.1")):
        assert file.stat().st_size <= 4000
    newest = lines(path)
    assert newest[0]["type"] == "meta" and newest[0]["what"] == "rotated"
    carried = [line for line in newest if line.get("carried")]
    assert sorted(c["target"] for c in carried) == ["t0", "t1", "t2"]  # each file replays on its own
    last = readings_in(path)[-1]
    assert last["reason"] == f"reading {letters(399)}"


def test_a_full_disk_is_one_problem_and_recording_goes_on_quietly(tmp_path):
    problems = []
    recorder = Recorder(Path("/dev/full"), on_problem=lambda title, text: problems.append((title, text))).start()
    for i in range(50):
        recorder.observe_reading(reading(reason=f"r{letters(i)}", at=i))
    recorder.close()
    assert len(problems) == 1 and recorder.problems == 1
    assert "/dev/full" in problems[0][1] and "No space left" in problems[0][1]
    assert recorder.lost > 0


def test_a_directory_as_the_path_is_one_clear_problem(tmp_path):
    problems = []
    recorder = Recorder(tmp_path, on_problem=lambda title, text: problems.append(text)).start()
    recorder.observe_reading(reading())
    recorder.observe_reading(reading(status=Status.WARN, reason="slow"))
    recorder.close()
    assert len(problems) == 1
    assert str(tmp_path) in problems[0] and "is a directory" in problems[0]


def test_record_path_defaults_beside_the_ledger_and_can_be_turned_off(tmp_path):
    source = tmp_path / "launchdeck.toml"
    source.write_text("")
    checklists = '[checklists]\nledger = "ledgers/signoff.jsonl"\n'
    assert record_path(parse_config(checklists, str(source), {})) == tmp_path / "ledgers" / RECORD_NAME
    assert record_path(parse_config('[deck]\nrecord = "rec/x.jsonl"\n', str(source), {})) == tmp_path / "rec/x.jsonl"
    assert record_path(parse_config('[deck]\nrecord = ""\n', str(source), {})) is None
    assert record_path(parse_config('[deck]\nrecord = false\n', str(source), {})) is None
    # a config built in memory (tests) has no directory of its own: nothing is written by default
    assert record_path(parse_config("", "not-a-file.toml", {})) is None


def test_a_stuck_writer_never_blocks_the_engine(tmp_path):
    recorder = Recorder(tmp_path / "rec.jsonl", queue_limit=1)  # not started: nothing drains the queue
    results = [recorder.observe_reading(reading(reason=f"r{letters(i)}", at=i)) for i in range(5)]
    assert results == [True, False, False, False, False] and recorder.lost == 4


def test_one_recorder_per_file_and_the_second_takes_over_with_the_state(tmp_path):
    path = tmp_path / "rec.jsonl"
    first = Recorder(path, lock=True).start()
    first.observe_reading(reading(target="web", reason="from the first"))
    deadline = time.monotonic() + 5
    while first._lock_fd is None and time.monotonic() < deadline:  # its writer takes the lock on its first write
        time.sleep(0.02)
    second = Recorder(path, lock=True).start()
    second.observe_reading(reading(target="db", status=Status.WARN, reason="from the second", at=1))
    deadline = time.monotonic() + 5
    while second._standby is False and time.monotonic() < deadline:  # the second's writer found the lock taken
        time.sleep(0.02)
    assert second._standby
    first.close()
    second.observe_reading(reading(target="db", status=Status.CRIT, reason="later", at=2))
    second.close()
    written = [(r["target"], r["reason"], bool(r.get("carried"))) for r in readings_in(path)]
    assert written == [("web", "from the first", False), ("db", "from the second", True), ("db", "later", False)]
    assert second.problems == 0


def test_a_symbolic_link_as_the_path_is_refused_as_one_problem(tmp_path):
    target = tmp_path / "elsewhere.jsonl"
    (tmp_path / "rec.jsonl").symlink_to(target)
    problems = []
    recorder = Recorder(tmp_path / "rec.jsonl", on_problem=lambda title, text: problems.append(text)).start()
    recorder.observe_reading(reading())
    recorder.close()
    assert len(problems) == 1 and "symbolic link" in problems[0] and not target.exists()


def test_the_recording_is_not_readable_by_everyone(tmp_path):
    recorder = Recorder(tmp_path / "rec.jsonl").start()
    recorder.observe_reading(reading())
    recorder.close()
    assert (tmp_path / "rec.jsonl").stat().st_mode & 0o007 == 0  # 0640 under the usual umask


def test_a_directory_removed_while_recording_is_not_made_again(tmp_path, monkeypatch):
    import shutil

    monkeypatch.setattr("launchdeck.engine.recorder.RETRY_SECONDS", 0.0)  # a failed write is retried at once
    where = tmp_path / "demo" / "records"
    recorder = Recorder(where / "rec.jsonl", max_bytes=300).start()
    recorder.observe_reading(reading())
    deadline = time.monotonic() + 5
    while not (where / "rec.jsonl").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (where / "rec.jsonl").exists(), "made the first time"
    shutil.rmtree(tmp_path / "demo")  # the demo's clean-up at exit, the writer still running
    for i in range(3):  # a rotation fails (the directory is gone), then every retry opens the file anew
        recorder.observe_reading(reading(status=Status.WARN, reason=f"later {letters(i)}", at=i + 1))
        time.sleep(0.1)
    recorder.close()
    assert not (tmp_path / "demo").exists() and recorder.problems == 1
