"""Per-target state over time: since when it has been in its status, how often it flapped, and the
state changes themselves as events (the launch timeline shows them later)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from launchdeck.core.model import Reading, Status

FLAP_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class StateChange:
    at: datetime
    panel: str
    target: str
    old: Status | None
    new: Status
    reason: str


@dataclass(frozen=True)
class Track:
    """What a row needs besides the reading itself."""

    since: datetime
    flaps: int  # status changes within FLAP_WINDOW (leaving the first unknown is not one)


class Tracker:
    def __init__(self, max_events: int = 1000) -> None:
        self.events: deque[StateChange] = deque(maxlen=max_events)
        self._status: dict[tuple[str, str], Status] = {}
        self._since: dict[tuple[str, str], datetime] = {}
        self._changes: dict[tuple[str, str], deque[datetime]] = {}
        self._known: set[tuple[str, str]] = set()  # targets judged ok, warn or crit at least once

    def observe(self, reading: Reading) -> Track:
        key = reading.key
        old = self._status.get(key)
        changes = self._changes.setdefault(key, deque())
        if old is not reading.status:
            self._status[key] = reading.status
            self._since[key] = reading.observed_at
            self.events.append(StateChange(reading.observed_at, reading.panel, reading.target, old,
                                           reading.status, reading.reason))
            # a target that was only ever unknown (a rate window filling, a host not yet answered)
            # and now reads for the first time has not flapped: that is its first real reading
            if old is not None and key in self._known:
                changes.append(reading.observed_at)
        if reading.status is not Status.UNKNOWN:
            self._known.add(key)
        while changes and reading.observed_at - changes[0] > FLAP_WINDOW:
            changes.popleft()
        return Track(self._since[key], len(changes))
