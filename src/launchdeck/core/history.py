"""A bounded, time-ordered history of readings per target: for `for 15m` evidence and sparklines.

Kept by whoever receives readings (the app, the wall view); bounded by age and by count so a
dashboard running for days holds a constant amount of memory.
"""

from __future__ import annotations

from collections import deque
from datetime import timedelta
from typing import Iterator

from launchdeck.core.model import Reading


class ReadingHistory:
    def __init__(self, keep_seconds: float = 0.0, max_per_target: int = 4096) -> None:
        self.keep = timedelta(seconds=keep_seconds)
        self._max = max_per_target
        self._by_key: dict[tuple[str, str], deque[Reading]] = {}

    def add(self, reading: Reading) -> None:
        readings = self._by_key.setdefault(reading.key, deque(maxlen=self._max))
        readings.append(reading)
        horizon = reading.observed_at - self.keep
        while len(readings) > 1 and readings[0].observed_at < horizon:
            readings.popleft()

    def targets(self, panel: str) -> list[str]:
        return [t for (p, t) in self._by_key if p == panel]

    def newest_first(self, panel: str, target: str) -> Iterator[Reading]:
        return reversed(self._by_key.get((panel, target), ()))

    def oldest_first(self, panel: str, target: str) -> Iterator[Reading]:
        return iter(self._by_key.get((panel, target), ()))

    def needs(self, seconds: float) -> None:
        """Widen the kept window (a `for 15m` condition needs 15 minutes of readings)."""
        if timedelta(seconds=seconds) > self.keep:
            self.keep = timedelta(seconds=seconds)
