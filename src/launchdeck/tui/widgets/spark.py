"""A fixed-width text sparkline: one short string, so a new point repaints a dozen cells, not a panel."""

from __future__ import annotations

import math
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
    change a bar at most when a worse value arrives or a new slice begins. Points may arrive in
    any order (a backfill landing after the first live poll); a slice with no reading is a gap
    (None), never a zero.
    """

    def __init__(self, width: int, seconds: float = 30.0) -> None:
        self.width, self.seconds = width, seconds
        self._slices: dict[int, float | None] = {}
        self._newest: int | None = None

    def add(self, at: datetime, value: float | None) -> None:
        index = int(at.timestamp() // self.seconds)
        if self._newest is not None and index <= self._newest - self.width:
            return  # older than anything shown
        old = self._slices.get(index)
        if index not in self._slices or (value is not None and (old is None or value > old)):
            self._slices[index] = value  # the worst in this slice
        if self._newest is None or index > self._newest:
            self._newest = index
            for stale in [k for k in self._slices if k <= index - self.width]:
                del self._slices[stale]

    @property
    def values(self) -> list[float | None]:
        if self._newest is None:
            return []
        first = min(self._slices)
        return [self._slices.get(i) for i in range(max(first, self._newest - self.width + 1), self._newest + 1)]

    def text(self) -> str:
        return sparkline(self.values, self.width)
