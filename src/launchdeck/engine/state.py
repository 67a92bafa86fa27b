"""The engine's live state: latest reading per target, tracks, history, verdict, and the event log feed.

Changed only on the engine's loop; read by views through `Snapshot`, an immutable copy, so no view
ever sees a half-updated state or holds a lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Mapping

from launchdeck.core.history import ReadingHistory
from launchdeck.core.model import Reading, Status, Verdict
from launchdeck.engine.events import EventLog
from launchdeck.engine.tracking import Track, Tracker

Key = tuple[str, str]
HISTORY_SECONDS = 900.0  # per-target readings kept for views (detail, sparklines) when no evidence needs more
RECORD_KINDS = {"sign": Status.OK, "waive": Status.WARN, "unsign": Status.WARN, "note": Status.OK}


@dataclass(frozen=True)
class Snapshot:
    """Everything a view shows, as of `taken_at`."""

    taken_at: datetime
    readings: Mapping[Key, Reading]
    tracks: Mapping[Key, Track]
    verdict: Verdict
    last_event: int  # seq of the newest event, for views that follow the log


class LiveState:
    def __init__(self, events: EventLog, history: ReadingHistory | None = None) -> None:
        self.events = events
        self.history = history or ReadingHistory()
        self.history.needs(HISTORY_SECONDS)
        self.tracker = Tracker()
        self._latest: dict[Key, Reading] = {}
        self._tracks: dict[Key, Track] = {}
        self._verdict = Verdict.from_readings(())
        self._lock = threading.Lock()  # snapshot() copies from another thread

    @property
    def verdict(self) -> Verdict:
        return self._verdict  # one immutable object, replaced whole: no lock needed to read it

    def observe(self, reading: Reading) -> tuple[Track, Verdict]:
        old = self._latest.get(reading.key)
        track = self.tracker.observe(reading)
        self.history.add(reading)
        with self._lock:
            self._latest[reading.key] = reading
            self._tracks[reading.key] = track
            self._verdict = Verdict.from_readings(self._latest.values())
        self._log_change(old, reading)
        return track, self._verdict

    def _log_change(self, old: Reading | None, new: Reading) -> None:
        if old is not None and old.status is new.status:
            return
        if old is None:
            if new.status is Status.OK:  # a first reading is not a change, and an ok one is not news
                return
            kind = "first"
        elif new.status is Status.OK:
            kind = "recovery"
        elif new.status.severity > old.status.severity:
            kind = "breach"
        else:
            kind = "change"
        was = f"{old.status.value} → " if old else ""
        self.events.add(new.observed_at, new.panel, new.target, kind, new.status,
                        f"{was}{new.status.value}" + (f": {new.reason}" if new.reason else ""))

    def ledger_record(self, record: Any) -> None:
        """A record read from the ledger (ours or another terminal's) as an event."""
        when = datetime.fromisoformat(record.time.replace("Z", "+00:00"))
        who = record.operator.get("login", "?")
        if record.kind == "verify":
            passed = (record.evidence or {}).get("result") == "passed"
            self.events.add(when, "backups", record.item_id, "verify", Status.OK if passed else Status.CRIT,
                            f"{record.item_text}: {'passed' if passed else 'FAILED'} (by {who})")
        elif record.kind in RECORD_KINDS:
            note = f": {record.reason}" if record.reason else ""
            self.events.add(when, "checklists", record.checklist, record.kind, RECORD_KINDS[record.kind],
                            f"{record.kind} by {who}: {record.item_text}{note}")

    def container_event(self, event: Mapping[str, Any]) -> None:
        """A Docker engine event (die, oom, restart, health_status) the containers probe kept."""
        action = str(event.get("action", ""))
        bad = action in ("die", "oom", "kill") or "unhealthy" in str(event.get("detail", ""))
        target = f"{event.get('host', '')}/{event.get('container', '')}"
        detail = f" {event['detail']}" if event.get("detail") else ""
        self.events.add(event["time"], "containers", target, "container", Status.WARN if bad else Status.OK,
                        f"{action}{detail}")

    def problem(self, when: datetime, title: str, text: str) -> None:
        self.events.add(when, "engine", title, "problem", Status.UNKNOWN, text)

    def latest_by_key(self) -> dict[Key, Reading]:
        with self._lock:
            return dict(self._latest)

    def snapshot(self, now: datetime) -> Snapshot:
        with self._lock:
            return Snapshot(now, MappingProxyType(dict(self._latest)), MappingProxyType(dict(self._tracks)),
                            self._verdict, self.events.last_seq)
