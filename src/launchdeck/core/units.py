"""Durations and sizes as people write them in config ("500ms", "26h") and read them on screen."""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
DURATION_HINT = 'a duration like "500ms", "2s", "5m", "26h" or "1h30m"'


def parse_duration(text: str | int | float) -> float:
    """Seconds from "500ms" / "2s" / "1h30m", or from a bare number of seconds."""
    if isinstance(text, bool):
        raise ValueError(f"expected {DURATION_HINT}, got {text!r}")
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        compact = text.strip().replace(" ", "")
        parts = _PART.findall(compact)
        if not parts or "".join(n + u for n, u in parts) != compact:
            raise ValueError(f"expected {DURATION_HINT}, got {text!r}")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"expected a non-negative duration, got {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """Short human form: 850ms, 2.5s, 3m12s, 2h05m, 3d04h."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 10:
        return f"{seconds:.1f}".rstrip("0").rstrip(".") + "s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s" if sec else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h" if hours else f"{days}d"


def format_minutes(seconds: float) -> str:
    """A duration in whole minutes (`<1m`, `3h05m`, `2d04h`): on screen it changes at most once a minute,
    where a seconds counter would repaint its cell on every poll (bytes over SSH, DESIGN rule 7)."""
    if seconds < 60:
        return "<1m"
    return format_duration(seconds - seconds % 60)


def format_latency(seconds: float | None) -> str:
    """Latency column text: always milliseconds below 10 s so the column lines up."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 10:
        return f"{seconds * 1000:.0f}ms"
    return format_duration(seconds)


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?", re.IGNORECASE)
SIZE_HINT = 'a size like 1048576, "500KB", "10MB" or "1GiB"'


def parse_size(text: str | int) -> int:
    """Bytes from a bare integer or "10MB" / "1GiB" (K/M/G/T as powers of 1024 either way: `ls -h` does)."""
    if isinstance(text, bool) or isinstance(text, float):
        raise ValueError(f"expected {SIZE_HINT}, got {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"expected a non-negative size, got {text!r}")
        return text
    match = _SIZE.fullmatch(str(text).strip())
    if not match:
        raise ValueError(f"expected {SIZE_HINT}, got {text!r}")
    number, unit, _ = match.groups()
    return int(float(number) * 1024 ** " KMGT".index(unit.upper() or " "))


def format_size(value: float | int | None) -> str:
    """Short form as `ls -h` prints it: 512B, 4.0K, 12M, 1.5G."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "—"
    for unit in ("B", "K", "M", "G", "T"):
        if value < 1024 or unit == "T":
            return f"{value:.0f}{unit}" if unit in ("B", "K") or value >= 10 else f"{value:.1f}{unit}"
        value /= 1024
    return "—"


def format_span(seconds: float) -> str:
    """A duration as people set thresholds (`26h`, `40h`, `15m`, `500ms`): hours up to 4 days rather
    than days, and whole hours from 10h, so an age reads against its limit at a glance."""
    if seconds < 0:
        return "-" + format_span(-seconds)
    hours = seconds / 3600
    if hours >= 96:
        return format_duration(seconds)
    if hours >= 10:
        return f"{hours:.0f}h"
    return format_duration(seconds)


METRIC_WORDS = {"age_seconds": "age", "p95_seconds": "p95", "latency_seconds": "latency", "rate_rps": "rate",
                "cpu_percent": "cpu", "size_bytes": "size", "mem_bytes": "memory", "mem_percent": "memory"}


def metric_word(metric: str) -> str:
    """`age_seconds` -> `age`: the name a person wrote in the evidence, not the reading's key."""
    return METRIC_WORDS.get(metric, metric.replace("_", " "))


def format_metric(metric: str, value: object) -> str:
    """A reading value in the unit its name says: `40h`, `1.2%`, `480ms`, `12M`, `41/s`, `73%`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if not math.isfinite(value):
        return "—"
    if metric.endswith("_seconds"):
        return format_span(value)
    if metric.endswith("ratio"):
        return f"{value * 100:.2f}".rstrip("0").rstrip(".") + "%"
    if metric.endswith("_percent"):
        return f"{value:.0f}%"
    if metric.endswith("_bytes"):
        return format_size(value)
    if metric.endswith("_rps"):
        return f"{value:.1f}/s" if value < 10 else f"{value:.0f}/s"
    return f"{value:g}"
