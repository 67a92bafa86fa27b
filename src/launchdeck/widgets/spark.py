"""A fixed-width text sparkline: one short string, so a new point repaints a dozen cells, not a panel."""

from __future__ import annotations

import math
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
