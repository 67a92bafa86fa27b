"""A fixed-width text sparkline: one short string, so a new point repaints a dozen cells, not a panel."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Callable, Iterable

BARS = "▁▂▃▄▅▆▇█"
WARN_AT = 4 / 7  # the warn threshold draws as ▅, the crit threshold as █: the same height on every row
CRIT_AT = 1.0

Scale = Callable[[float], float]  # a value -> its height, 0 (▁) to 1 (█)


def threshold_scale(warn: float, crit: float) -> Scale:
    """Heights against a row's thresholds, not its own maximum: 0 → ▁, warn → ▅, crit and above → █.
    A 0.10 % error ratio under a 1 % warn draws low however quiet its neighbours are, and a start-up
    spike past crit is one full bar, not the yardstick every later point is measured by."""
    warn = max(warn, 1e-12)
    crit = max(crit, warn * (1 + 1e-9))

    def height(value: float) -> float:
        if value <= warn:
            return max(0.0, value / warn) * WARN_AT
        return min(CRIT_AT, WARN_AT + (value - warn) / (crit - warn) * (CRIT_AT - WARN_AT))

    return height


def sparkline(values: Iterable[float | None], width: int, floor: float = 0.0, scale: Scale | None = None) -> str:
    """The last `width` values as bars; a gap (None) is a space. With `scale` (threshold_scale) each
    value's height is its own; without, values are scaled between `floor` and their max."""
    points = list(values)[-width:]
    finite = [v for v in points if v is not None and math.isfinite(v)]
    if not finite:
        return " " * width
    if scale is None:
        low, high = floor, max(max(finite), floor)
        span = high - low or 1.0

        def scale(value: float) -> float:
            return (value - low) / span

    chars = []
    for value in points:
        if value is None or not math.isfinite(value):
            chars.append(" ")
        else:
            chars.append(BARS[min(len(BARS) - 1, max(0, int(scale(value) * (len(BARS) - 1) + 0.5)))])
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

    def __init__(self, width: int, seconds: float = 30.0, scale: Scale | None = None) -> None:
        self.width, self.seconds, self.scale = width, seconds, scale
        self._slices: dict[int, float | None] = {}
        self._newest: int | None = None

    def clear(self) -> None:
        self._slices.clear()
        self._newest = None

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
        return sparkline(self.values, self.width, scale=self.scale)
