"""The flight recorder: the engine's reading changes and events, appended to a JSON Lines file.

Why: after the launch, `launchdeck replay FILE` shows the dashboard and the timeline as they were
at any minute, and `launchdeck report` carries the timeline. One object a line, `{"t": iso time,
"type": "reading" | "event" | "meta", ...}`, appended (O_APPEND), never rewritten.

What is written: a reading only when what it says changed (its status, its reason, a non-numeric
value), or when only its numbers moved (a latency, "up 46s" in a reason, a backup's age in a list)
and NUMBERS_EVERY seconds have passed since that target's last line: a replay has the numbers
without a line per poll; every event of the engine's log (polled by seq).
Bounded and rotated: past `max_bytes` the file becomes `file.1` (`file.1` becomes `file.2` ...,
`keep` kept) and the new file starts with every target's last written reading again, so each
file replays on its own. Secrets: every text passes through the engine's scrubber.

Off the engine's loop: the listener only puts the reading on a bounded queue; one daemon thread
of its own writes (a slow or full disk never holds up polling). A failure to write (a full disk, a
directory or an unwritable path) is told once, as a problem in the engine's event log and to
the view, and the dashboard goes on; writing is retried now and then, and a line says how many
records were lost in between.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import queue
import re
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from launchdeck.core.filelock import try_flock
from launchdeck.core.model import Reading
from launchdeck.engine.events import Event
from launchdeck.engine.notices import Notice, ProblemNotice, ReadingNotice

log = logging.getLogger("launchdeck.recorder")

RECORD_NAME = "launchdeck-record.jsonl"  # the default file, beside the ledger
FORMAT = 1  # the meta line's "format": what replay expects
MAX_BYTES = 50 * 1024 * 1024
KEEP = 5  # rotated files kept (file.1 ... file.5)
NUMBERS_EVERY = 30.0  # s: an unchanged-but-for-its-numbers reading is written at most this often
QUEUE_LIMIT = 20_000  # records waiting for the writer; more are counted as lost (a stuck disk)
EVENT_POLL_SECONDS = 1.0  # the writer looks for new events this often
RETRY_SECONDS = 30.0  # after a failed write, records are dropped (and counted) until this has passed
PROBLEM_TITLE = "flight recorder"
LOCK_SUFFIX = ".lock"  # one recorder per file: a second dashboard on the same config does not interleave

_STOP = object()


def record_path(config: Any) -> Path | None:
    """Where `[deck] record` says to record; None when it is off. Unset: beside the ledger, but only
    for a config read from a file (a config built in memory has no place of its own to write)."""
    value = getattr(config.deck, "record", None)
    if value is False or value == "":
        return None
    if value is None or value is True:
        if not Path(config.source).is_file():
            return None
        from launchdeck.checklists.signing import ledger_path

        return ledger_path(config).with_name(RECORD_NAME)
    return config.resolve(Path(value))


def reading_line(reading: Reading, scrub: Callable[[str], str]) -> dict[str, Any]:
    """A reading as one record line: its time, key, status, reason, duration and values, scrubbed."""
    return {"t": reading.observed_at.isoformat(), "type": "reading", "panel": reading.panel,
            "target": reading.target, "status": reading.status.value, "reason": scrub(reading.reason),
            "duration": round(reading.duration, 6), "values": _scrubbed(dict(reading.values), scrub)}


def event_line(event: Event, scrub: Callable[[str], str]) -> dict[str, Any]:
    return {"t": event.time.isoformat(), "type": "event", "seq": event.seq, "panel": event.panel,
            "target": event.target, "kind": event.kind, "severity": event.severity.value,
            "text": scrub(event.text)}


def _scrubbed(value: Any, scrub: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {str(k): _scrubbed(v, scrub) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrubbed(v, scrub) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return scrub(str(value))  # a datetime, a Path: as text


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_DIGITS = re.compile(r"\d+(?:\.\d+)?")


def _words(reading: Reading) -> tuple[str, str, Any]:
    """What a reading says apart from its numbers: status, reason with its figures masked ("up 46s" and
    "up 51s" say the same; "HTTP 200 in 12ms" moves every poll), values with numeric leaves masked."""
    return reading.status.value, _DIGITS.sub("#", reading.reason), _shape(dict(reading.values))


def _shape(value: Any) -> Any:
    if _numeric(value):
        return "#"
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_shape(v) for v in value]
    return value


class Recorder:
    """Records what `observe_reading` and `observe_events` are given; `close()` flushes and stops."""

    def __init__(self, path: Path, scrub: Callable[[str], str] = lambda text: text,
                 on_problem: Callable[[str, str], None] | None = None, *, max_bytes: int = MAX_BYTES,
                 keep: int = KEEP, numbers_every: float = NUMBERS_EVERY, queue_limit: int = QUEUE_LIMIT,
                 meta: dict[str, Any] | None = None, clock: Any = None, lock: bool = False) -> None:
        self.path = Path(path)
        self.clock = clock  # for the meta lines' times (a FixedClock in tests); the system's without one
        self.scrub = scrub
        self.on_problem = on_problem
        self.max_bytes = max_bytes
        self.keep = keep
        self.numbers_every = numbers_every
        self.meta = dict(meta or {})
        self.written = 0  # lines written (tests and the bench read it)
        self.lost = 0  # records dropped: queue full or the file not writable
        self.problems = 0  # problems told (one per failure streak)
        self._queue: queue.Queue = queue.Queue(maxsize=queue_limit)
        self._shown: dict[tuple[str, str], tuple[tuple, tuple, datetime]] = {}  # listener's thread only
        self._last_lines: dict[tuple[str, str], dict[str, Any]] = {}  # writer's thread only: carried on rotation
        self._file: Any = None
        self._chunk = bytearray()  # whole lines waiting for one write
        self._made_directory = False
        self._lock = lock
        self._lock_fd: int | None = None
        self._standby = False  # another process holds the lock: this one writes nothing meanwhile
        self._size = 0
        self._failed_at: float | None = None
        self._lost_unsaid = 0
        self._events: Any = None  # an EventLog to poll
        self._event_seq = 0
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ feeding (any thread)
    def start(self, events: Any = None) -> Recorder:
        """Start the writer thread; with an EventLog, its events are recorded too (polled by seq)."""
        self._events = events
        self._put({"t": self._now(), "type": "meta", "what": "start", "format": FORMAT, **self.meta})
        self._thread = threading.Thread(target=self._run, name="launchdeck-recorder", daemon=True)
        self._thread.start()
        return self

    def listener(self, notice: Notice) -> None:
        """For Engine.subscribe: cheap (a comparison and a queue put), on the engine's thread."""
        if isinstance(notice, ReadingNotice):
            self.observe_reading(notice.reading)

    def observe_reading(self, reading: Reading) -> bool:
        """Queue the reading if it changed in what it says (or only its numbers moved, and they are due:
        NUMBERS_EVERY since this target's last line); True if queued."""
        words, whole = _words(reading), (reading.reason, dict(reading.values))
        shown = self._shown.get(reading.key)
        if shown is not None:
            old_words, old_whole, at = shown
            if old_words == words and (old_whole == whole or
                                       (reading.observed_at - at).total_seconds() < self.numbers_every):
                return False
        self._shown[reading.key] = (words, whole, reading.observed_at)
        return self._put(reading)

    def observe_events(self, events: list[Event] | tuple[Event, ...]) -> None:
        for event in events:
            self._put(event)

    def close(self, timeout: float = 2.0) -> None:
        """Write what is queued, a closing line, and stop (never waits longer than `timeout`)."""
        if self._thread is None:
            return
        with_stop = {"t": self._now(), "type": "meta", "what": "stop"}
        self._put(with_stop)
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            log.warning("flight recorder: queue full at close; %s records not written", self._queue.qsize())
        self._thread.join(timeout)
        self._thread = None

    def _put(self, item: Any) -> bool:
        try:
            self._queue.put_nowait(item)
            return True
        except queue.Full:  # the writer is stuck (a hung disk): count it, never block the engine
            self.lost += 1
            self._lost_unsaid += 1
            return False

    def _now(self) -> str:
        return (self.clock.now() if self.clock is not None else datetime.now(timezone.utc)).isoformat()

    # ------------------------------------------------------------------ writing (the writer thread)
    def _run(self) -> None:
        stop = False
        while not stop:
            try:
                first = self._queue.get(timeout=EVENT_POLL_SECONDS)
            except queue.Empty:
                first = None
            batch = [] if first is None else [first]
            while len(batch) < 1000:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if any(item is _STOP for item in batch):
                stop = True
                batch = [item for item in batch if item is not _STOP]
            lines = self._new_event_lines() + [self._line(item) for item in batch]
            if lines:
                self._write(lines)
        if self._file is not None:
            self._close_file()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # the next dashboard on this config records from here
            self._lock_fd = None

    def _new_event_lines(self) -> list[dict[str, Any]]:
        if self._events is None or self._events.last_seq == self._event_seq:
            return []
        events = self._events.since(self._event_seq)
        if events:
            self._event_seq = events[-1].seq
        return [event_line(e, self.scrub) for e in events]

    def _line(self, item: Any) -> dict[str, Any]:
        if isinstance(item, Reading):
            return reading_line(item, self.scrub)
        if isinstance(item, Event):
            return event_line(item, self.scrub)
        return _scrubbed(item, self.scrub)

    def _write(self, lines: list[dict[str, Any]]) -> None:
        if self._failed_at is not None and time.monotonic() - self._failed_at < RETRY_SECONDS:
            self.lost += len(lines)
            self._lost_unsaid += len(lines)
            return
        try:
            if not self._lock_held():  # another launchdeck records to this file
                if not self._standby:
                    self._standby = True
                    log.info("flight recorder: another launchdeck records to %s; this one takes over when it "
                             "stops", self.path)
                for line in lines:  # kept: on taking over, every target's state is written first
                    if line.get("type") == "reading":
                        self._last_lines[(line["panel"], line["target"])] = line
                return
            if self._standby:
                self._standby = False
                lines[:0] = [{**line, "carried": True} for line in self._last_lines.values()]
            if self._lost_unsaid:
                lines.insert(0, {"t": self._now(), "type": "meta", "what": "lost", "records": self._lost_unsaid})
            for line in lines:
                self._write_line(line)
            self._flush_chunk()
        except OSError as error:
            self._chunk.clear()  # whole lines or none: what did not go out is counted as lost
            self._failed(error, len(lines))
            return
        if self._failed_at is not None:
            log.info("flight recorder: writing %s again", self.path)
        self._failed_at, self._lost_unsaid = None, 0

    def _write_line(self, line: dict[str, Any]) -> None:
        data = (json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode()
        if self._file is None:
            self._open()
        elif self._size and self._size + len(data) > self.max_bytes:
            self._flush_chunk()
            self._rotate()
        self._chunk += data
        self._size += len(data)
        self.written += 1
        if line.get("type") == "reading":
            self._last_lines[(line["panel"], line["target"])] = line

    def _make_directory(self) -> None:
        """The recording's directory, made once: never again later, when it may have been removed on
        purpose (the demo's temporary directory at exit, with this daemon thread still running)."""
        if not self._made_directory:
            self._made_directory = True
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def _lock_held(self) -> bool:
        """flock on `file.lock`, taken once and held: True when this recorder may write. A lock file that
        cannot be made (an unwritable directory) raises, and is the one problem told."""
        if not self._lock or self._lock_fd is not None:
            return True
        self._make_directory()
        self._lock_fd = try_flock(self.path.with_name(self.path.name + LOCK_SUFFIX))
        return self._lock_fd is not None

    def _open(self) -> None:
        if self.path.is_dir():
            raise IsADirectoryError(21, "is a directory, not a file", str(self.path))
        if self.path.is_symlink():  # the recording goes where the config says, not where a link points
            raise OSError(errno.ELOOP, "is a symbolic link (refused)", str(self.path))
        self._make_directory()
        # O_APPEND: every write at the end; O_NOFOLLOW: a link put there in between is refused too;
        # 0640 as the ledger's lock: readings and events carry names and reasons, not for everyone
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640)
        self._file = os.fdopen(fd, "ab", buffering=0)
        self._size = os.fstat(fd).st_size

    def _flush_chunk(self) -> None:
        """A batch of whole lines in one write(2): with O_APPEND, another writer's lines never land inside one."""
        data, done = bytes(self._chunk), 0
        self._chunk.clear()
        while done < len(data):
            done += self._file.write(data[done:])

    def _close_file(self) -> None:
        try:
            self._file.close()
        except OSError as error:  # the last buffered lines could not be written: said, not raised
            self._failed(error, 0)
        self._file = None

    def _rotate(self) -> None:
        """file → file.1 → file.2 ...; the new file starts with a meta line and every target's last
        written reading (marked "carried"), so it replays on its own."""
        self._file.close()
        self._file = None
        oldest = self.path.with_name(f"{self.path.name}.{self.keep}")
        if oldest.exists():
            oldest.unlink()
        for number in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{number}")
            if older.exists():
                older.rename(self.path.with_name(f"{self.path.name}.{number + 1}"))
        if self.keep > 0:
            self.path.rename(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink()
        self._open()
        carried = [{**line, "carried": True} for line in self._last_lines.values()]
        for line in [{"t": self._now(), "type": "meta", "what": "rotated", "format": FORMAT, **self.meta}, *carried]:
            data = (json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode()
            self._chunk += data
            self._size += len(data)
            self.written += 1

    def _failed(self, error: OSError, count: int) -> None:
        """Told once per failure streak; the file is reopened on the next try (a freed disk, a fixed path)."""
        self.lost += count
        self._lost_unsaid += count
        first = self._failed_at is None
        self._failed_at = time.monotonic()
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.close()
            except OSError:  # its buffer cannot be written either; the lines are already counted as lost
                log.debug("flight recorder: close after a failed write failed too")
        if not first:
            return
        self.problems += 1
        text = (f"not recording to {self.path}: {error.strerror or error}; the dashboard goes on, "
                f"writing is retried every {RETRY_SECONDS:g}s")
        if self.on_problem is None:
            log.warning("%s: %s", PROBLEM_TITLE, text)
        else:  # the engine's record_problem logs it and keeps it in the event log
            self.on_problem(PROBLEM_TITLE, text)


def start_recorder(config: Any, engine: Any, tell: Callable[[Notice], None] | None = None) -> Recorder | None:
    """Record `engine` where `[deck] record` says (None when off): its readings through subscribe(),
    its events by polling its log. A problem is kept in the engine's event log (and logged) and
    handed to `tell` (a view's notice listener) as a ProblemNotice."""
    path = record_path(config)
    if path is None:
        return None

    def problem(title: str, text: str) -> None:
        text = engine.record_problem(title, text)
        if tell is not None:
            tell(ProblemNotice(title, text, "warning"))

    recorder = Recorder(path, engine.scrub, problem,
                        meta={"deck": config.deck.name, "environment": config.deck.environment},
                        clock=engine.clock, lock=True)
    engine.subscribe(recorder.listener)
    return recorder.start(engine.events)


__all__ = ["Recorder", "RECORD_NAME", "record_path", "start_recorder", "reading_line", "event_line"]
