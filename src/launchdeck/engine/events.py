"""The engine's event log: what happened during the launch, in order, for the timeline and the report.

State changes (breaches and recoveries), sign-offs, waivers, dump verifications, container engine
events and problems all become one kind of frozen Event. The log is bounded so a dashboard that
runs for days holds a constant amount of memory; `seq` numbers let a view ask for what is new.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from launchdeck.core.model import Status

EVENTS_KEPT = 10_000


@dataclass(frozen=True)
class Event:
    seq: int
    time: datetime
    panel: str
    target: str
    kind: str  # first | breach | recovery | change | sign | unsign | waive | note | verify | container | problem
    severity: Status
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "time": self.time.isoformat(), "panel": self.panel, "target": self.target,
                "kind": self.kind, "severity": self.severity.value, "text": self.text}


class EventLog:
    """Appended on the engine's loop, read from any thread (a lock guards the deque and the counter)."""

    def __init__(self, limit: int = EVENTS_KEPT) -> None:
        self._events: deque[Event] = deque(maxlen=limit)
        self._seq = 0
        self._lock = threading.Lock()

    def add(self, time: datetime, panel: str, target: str, kind: str, severity: Status, text: str) -> Event:
        with self._lock:
            self._seq += 1
            event = Event(self._seq, time, panel, target, kind, severity, text)
            self._events.append(event)
        return event

    def since(self, seq: int = 0) -> tuple[Event, ...]:
        """Events newer than `seq`, oldest first (all kept ones for 0)."""
        with self._lock:
            return tuple(e for e in self._events if e.seq > seq)

    @property
    def last_seq(self) -> int:
        return self._seq
