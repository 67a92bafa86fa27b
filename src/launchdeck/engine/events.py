"""The engine's event log: what happened during the launch, in order, for the timeline and the report.

State changes (breaches and recoveries), sign-offs, waivers, dump verifications, actions (deploy,
rollback, restore: their start, steps and finish as read back from the ledger), container engine
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
    kind: str  # first | breach | recovery | change | sign | unsign | waive | note | verify | container | problem | action
    severity: Status
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "time": self.time.isoformat(), "panel": self.panel, "target": self.target,
                "kind": self.kind, "severity": self.severity.value, "text": self.text}


# how an action's record reads in the timeline: a finish by its outcome, a step by its own
ACTION_SEVERITY = {"done": Status.OK, "ok": Status.OK, "skipped": Status.OK, "breached": Status.CRIT,
                   "failed": Status.CRIT, "timeout": Status.CRIT, "not-found": Status.CRIT, "error": Status.CRIT,
                   "cancelled": Status.WARN, "refused": Status.WARN}


def action_event(record: Any) -> tuple[str, str, str, Status, str]:
    """(panel, target, kind, severity, text) of a ledger action record (start, step, skipped, finish,
    lock-broken): the action's own one-line summary, who, and why or how it ended."""
    evidence = record.evidence if isinstance(record.evidence, dict) else {}
    event = evidence.get("event")
    who = record.operator.get("login", "?") if isinstance(record.operator, dict) else "?"
    text = f"{record.item_text} (by {who})"
    if event == "finish" and evidence.get("message"):
        text += f": {evidence['message']}"
    elif record.reason:
        text += f": {record.reason}"
    if event in ("start", "lock-broken"):
        severity = Status.WARN if event == "lock-broken" or (evidence.get("gate") or {}).get("overridden") \
            else Status.OK
    else:
        severity = ACTION_SEVERITY.get(str(evidence.get("outcome", "skipped" if event == "skipped" else "")),
                                       Status.UNKNOWN)
    return "actions", record.item_id, "action", severity, text


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
