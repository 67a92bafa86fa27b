"""A fixed-width text sparkline: one short string, so a new point repaints a dozen cells, not a panel."""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime
from typing import Iterable

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Iterable[float | None], width: int, floor: float = 0.0) -> str:
    """The last `width` values scaled between `floor` and their max; a gap (None) is a space."""
    points = list(values)[-width:]
    finite = [v for v in points if v is not None and math.isfinite(v)]
    if not finite:
        return " " * width
    low, high = floor, max(max(finite), floor)
    span = high - low or 1.0
    chars = []
    for value in points:
        if value is None or not math.isfinite(value):
            chars.append(" ")
        else:
            chars.append(BARS[min(len(BARS) - 1, max(0, int((value - low) / span * (len(BARS) - 1) + 0.5)))])
    return "".join(chars).rjust(width)


class Buckets:
    """The worst value of each `seconds`-long slice of time, the newest `width` slices.

    A sparkline of raw polls would shift on every poll (a repaint of every row's sparkline each
    refresh, the main cost of a wide dashboard over SSH) and span only width × refresh seconds.
    Slices of 30 s make 10 cells cover 5 minutes, match Prometheus backfill's 30 s step, and
    change a bar at most when a worse value arrives or a new slice begins. A slice with no
    reading is a gap (None), never a zero.
    """

    def __init__(self, width: int, seconds: float = 30.0) -> None:
        self.width, self.seconds = width, seconds
        self.values: deque[float | None] = deque(maxlen=width)
        self._slice: int | None = None

    def add(self, at: datetime, value: float | None) -> None:
        index = int(at.timestamp() // self.seconds)
        if self._slice is not None and index <= self._slice:
            if index == self._slice and value is not None and (self.values[-1] is None or value > self.values[-1]):
                self.values[-1] = value  # the worst in this slice
            return
        if self._slice is not None:
            self.values.extend([None] * min(self.width, index - self._slice - 1))  # slices with no reading
        self.values.append(value)
        self._slice = index

    def text(self) -> str:
        return sparkline(self.values, self.width)
