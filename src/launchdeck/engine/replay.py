"""A flight recording read back (engine/recorder.py), and a read-only engine over it at a time cursor.

`load_recording` never fails on a bad line: a line that is not JSON, not an object, or misses a
field is skipped and listed with its line number. A path that is missing, a directory or a
symbolic link is one clear RecordingError.

`ReplayEngine` offers what the views read from the live Engine (snapshot(), events, subscribe(),
clock, start/stop) so the one dashboard and the one timeline show a recording: the state at the
cursor is the recorded readings up to it fed through a real LiveState, the event log is the
recorded events up to it. Nothing polls and nothing can be signed or run.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from launchdeck.core.model import FixedClock, Reading, Status
from launchdeck.core.redact import Scrubber
from launchdeck.engine.events import EVENTS_KEPT, Event, EventLog
from launchdeck.engine.notices import Notice, ReadingNotice
from launchdeck.engine.state import LiveState, Snapshot
from launchdeck.engine.tracking import Track

log = logging.getLogger("launchdeck.replay")

INCIDENT_KINDS = ("breach",)  # with any crit event: what `n` / `p` jump to
NOT_YET = "not recorded yet at this time"
FEED_ONE_BY_ONE = 500  # readings; a longer stretch is fed per target (see _feed_many)
FIRST_PICTURE_WITHIN = timedelta(minutes=1)  # targets first read this soon make the picture a replay opens on


class RecordingError(Exception):
    """A recording that cannot be opened at all (one line: what and where)."""


@dataclass(frozen=True)
class Recording:
    path: Path
    readings: tuple[Reading, ...]  # by time
    events: tuple[Event, ...]  # by time; seq as recorded
    meta: tuple[dict[str, Any], ...]
    skipped: tuple[tuple[int, str], ...]  # (line number, why): corrupt lines, not counted

    def _times(self) -> list[datetime]:
        ends = [self.readings[0].observed_at, self.readings[-1].observed_at] if self.readings else []
        return ends + ([self.events[0].time, self.events[-1].time] if self.events else [])

    @property
    def start(self) -> datetime | None:
        return min(self._times(), default=None)

    @property
    def end(self) -> datetime | None:
        return max(self._times(), default=None)

    @property
    def deck(self) -> tuple[str, str]:
        """(deck name, environment) from the first meta line that has them."""
        for meta in self.meta:
            if meta.get("deck"):
                return str(meta["deck"]), str(meta.get("environment", ""))
        return "", ""


def _time(value: Any) -> datetime:
    when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _reading(line: dict[str, Any]) -> Reading:
    values = line.get("values") or {}
    if not isinstance(values, dict):
        raise ValueError("values is not an object")
    return Reading(str(line["panel"]), str(line["target"]), Status(line["status"]), str(line.get("reason", "")),
                   values, _time(line["t"]), float(line.get("duration", 0.0)))


def _event(line: dict[str, Any]) -> Event:
    return Event(int(line.get("seq", 0)), _time(line["t"]), str(line["panel"]), str(line["target"]),
                 str(line["kind"]), Status(line["severity"]), str(line.get("text", "")))


def check_path(path: Path) -> None:
    """One clear line for a path that is not a regular file one can read."""
    if path.is_symlink():
        raise RecordingError(f"{path}: is a symbolic link; give the recording's own path")
    if not path.exists():
        raise RecordingError(f"{path}: no such recording")
    if path.is_dir():
        raise RecordingError(f"{path}: is a directory, not a recording")
    if not path.is_file():
        raise RecordingError(f"{path}: not a regular file")


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    try:
        with open(path, "rb") as file:
            yield from enumerate(file, 1)
    except OSError as error:
        raise RecordingError(f"{path}: {error.strerror or error}") from None


def load_recording(path: Path, with_rotated: bool = False) -> Recording:
    """Every good line of the recording (with `with_rotated`, its rotated files first, oldest first)."""
    path = Path(path)
    check_path(path)
    files = [path]
    if with_rotated:
        number = 1
        while path.with_name(f"{path.name}.{number}").is_file():
            files.insert(0, path.with_name(f"{path.name}.{number}"))
            number += 1
    readings: list[Reading] = []
    events: list[Event] = []
    meta: list[dict[str, Any]] = []
    skipped: list[tuple[int, str]] = []
    for file in files:
        where = "" if file == path else f"{file.name}:"
        for number, raw in _lines(file):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
                if not isinstance(line, dict):
                    raise ValueError("not a JSON object")
                kind = line.get("type")
                if kind == "reading":
                    if not (line.get("carried") and file != files[0]):  # a rotated file's carried state repeats
                        readings.append(_reading(line))
                elif kind == "event":
                    events.append(_event(line))
                elif kind == "meta":
                    meta.append(line)
                else:
                    raise ValueError(f"unknown type {kind!r}")
            except (ValueError, KeyError, TypeError) as error:  # a torn or edited line: listed, skipped
                why = f"missing field {error}" if isinstance(error, KeyError) else str(error).splitlines()[0][:120]
                skipped.append((number, f"{where}{why}" if where else why))
    readings.sort(key=lambda r: r.observed_at)
    events.sort(key=lambda e: e.time)
    return Recording(path, tuple(readings), tuple(events), tuple(meta), tuple(skipped))


def clock_words(when: datetime) -> str:
    return when.strftime("%H:%M:%S")


class ReplayEngine:
    """The live Engine's reading surface over a recording, at `cursor`. Read-only: no probes, no ledger."""

    replaying = True  # views tell it from the live Engine by this (nothing records a replay)

    def __init__(self, recording: Recording, config: Any) -> None:
        self.config = config
        self.recording = recording
        self.start_time = recording.start or datetime.now(timezone.utc)
        self.end_time = recording.end or self.start_time
        self.clock = FixedClock(at=self.start_time)
        self.checklists = None
        self.scrub = Scrubber(getattr(config, "secrets", ()))
        self._listeners: list[Callable[[Notice], None]] = []
        self._reading_times = [r.observed_at for r in recording.readings]
        self._event_times = [e.time for e in recording.events]
        self.incidents = sorted({e.time for e in recording.events
                                 if e.kind in INCIDENT_KINDS or e.severity is Status.CRIT})
        self._keys = list(dict.fromkeys(r.key for r in recording.readings))
        self._reset()
        self._advance(self.first_picture())

    def first_picture(self) -> datetime:
        """Where a replay opens: once every target of the first minute had its first reading (the
        dashboard's first full picture; a container created an hour later does not hold it back)."""
        firsts: dict = {}
        for reading in self.recording.readings:
            firsts.setdefault(reading.key, reading.observed_at)
        early = [when for when in firsts.values() if when <= self.start_time + FIRST_PICTURE_WITHIN]
        return min(max(early, default=self.start_time), self.end_time)

    # ------------------------------------------------------------------ the engine's surface
    def subscribe(self, listener: Callable[[Notice], None]) -> None:
        self._listeners.append(listener)

    def snapshot(self) -> Snapshot:
        return dataclasses.replace(self.state.snapshot(self.cursor), last_event=self.events.last_seq)

    def start(self, wait: bool = True, hold: bool = False) -> None:
        self._publish_all()

    def release(self) -> None:
        """Nothing polls in a replay."""

    def stop(self, timeout: float = 0.0) -> None:
        """Nothing runs in a replay."""

    def refresh(self) -> None:
        """Nothing to poll in a replay."""

    def verify_newest(self) -> int:
        return 0

    def verify_dump(self, source: str, name: str) -> str:
        return "a replay is read-only: nothing is verified"

    def record_problem(self, title: str, text: str) -> str:
        text = self.scrub(text)
        log.warning("%s: %s", title, text)
        return text

    # ------------------------------------------------------------------ the cursor
    def seek(self, when: datetime) -> datetime:
        """Move the cursor (kept within the recording); views are told the readings that changed."""
        when = max(self.start_time, min(when, self.end_time))
        if when < self.cursor:
            self._reset()
            self._advance(when)
            self._publish_all()
        else:
            self._publish(self._advance(when))
        return self.cursor

    def step(self, seconds: float) -> datetime:
        return self.seek(self.cursor + timedelta(seconds=seconds))

    def next_incident(self) -> datetime | None:
        index = bisect.bisect_right(self.incidents, self.cursor)
        return self.seek(self.incidents[index]) if index < len(self.incidents) else None

    def previous_incident(self) -> datetime | None:
        index = bisect.bisect_left(self.incidents, self.cursor)
        return self.seek(self.incidents[index - 1]) if index > 0 else None

    def status_line(self) -> str:
        """"REPLAY hh:mm:ss of hh:mm–hh:mm" (UTC, as recorded)."""
        return (f"REPLAY {clock_words(self.cursor)} of {self.start_time.strftime('%H:%M')}–"
                f"{self.end_time.strftime('%H:%M')}")

    # ------------------------------------------------------------------ state at the cursor
    def _reset(self) -> None:
        self.state = LiveState(EventLog())  # its own change events: the recording's are the log
        self.events = EventLog(max(EVENTS_KEPT, len(self.recording.events)))
        self._next_reading = self._next_event = 0
        self.cursor = self.start_time - timedelta(microseconds=1)

    def _advance(self, when: datetime) -> list[Reading]:
        """Feed what was recorded up to and including `when`; the readings fed, oldest first."""
        upto = bisect.bisect_right(self._reading_times, when)
        fed = list(self.recording.readings[self._next_reading:upto])
        if len(fed) <= FEED_ONE_BY_ONE:
            for reading in fed:
                self.state.observe(reading)
        else:
            fed = self._feed_many(fed)
        self._next_reading = max(self._next_reading, upto)
        upto = bisect.bisect_right(self._event_times, when)
        for event in self.recording.events[self._next_event:upto]:
            self.events.add(event.time, event.panel, event.target, event.kind, event.severity, event.text)
        self._next_event = max(self._next_event, upto)
        self.cursor = when
        self.clock.at = when
        return fed

    def _feed_many(self, readings: list[Reading]) -> list[Reading]:
        """A long stretch (a jump back rebuilds from the start): every reading goes through its target's
        track and history, and only each target's newest through observe(), which judges the verdict
        over every target each time (an hour of 200 targets took 11 s one by one). The newest per target
        is returned, oldest first."""
        by_key: dict[tuple[str, str], list[Reading]] = {}
        for reading in readings:
            by_key.setdefault(reading.key, []).append(reading)
        for earlier in by_key.values():
            for reading in earlier[:-1]:
                self.state.tracker.observe(reading)
                self.state.history.add(reading)
        newest = sorted((earlier[-1] for earlier in by_key.values()), key=lambda r: r.observed_at)
        for reading in newest:
            self.state.observe(reading)
        return newest

    def _publish(self, readings: list[Reading]) -> None:
        snapshot = self.state.snapshot(self.cursor)
        for reading in readings:
            self._tell(ReadingNotice(reading, snapshot.tracks[reading.key], snapshot.verdict))

    def _publish_all(self) -> None:
        """Every target as it was at the cursor; one not read yet by then says so."""
        snapshot = self.state.snapshot(self.cursor)
        for panel, target in self._keys:
            reading = snapshot.readings.get((panel, target))
            if reading is None:
                self._tell(ReadingNotice(Reading(panel, target, Status.UNKNOWN, NOT_YET, {}, self.cursor, 0.0),
                                         Track(self.cursor, 0), snapshot.verdict))
            else:
                self._tell(ReadingNotice(reading, snapshot.tracks[(panel, target)], snapshot.verdict))

    def _tell(self, notice: Notice) -> None:
        for listener in self._listeners:
            listener(notice)


__all__ = ["Recording", "RecordingError", "ReplayEngine", "load_recording", "check_path"]
