"""Frozen values shared by every layer: statuses, probe outcomes, readings, the verdict.

Readings are immutable snapshots (DESIGN rule 2): a probe produces one, a worker posts it,
a widget renders it. Nothing here imports Textual or does I/O.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Protocol


class Status(str, Enum):
    OK = "ok"
    WARN = "warn"
    CRIT = "crit"
    UNKNOWN = "unknown"

    @property
    def severity(self) -> int:
        """Order for "worst of": unknown ranks above warn (we cannot prove health) but below crit."""
        return _SEVERITY[self]

    @property
    def exit_code(self) -> int:
        """`launchdeck check` exit code: 0 ok, 1 warn, 2 crit or unknown."""
        return {Status.OK: 0, Status.WARN: 1}.get(self, 2)


_SEVERITY = {Status.OK: 0, Status.WARN: 1, Status.UNKNOWN: 2, Status.CRIT: 3}


def worst(statuses: Iterable[Status]) -> Status:
    return max(statuses, key=lambda s: s.severity, default=Status.UNKNOWN)


def _frozen(values: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True)
class Outcome:
    """What a probe found, before the engine stamps target, time and duration on it."""

    status: Status
    reason: str = ""
    values: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _frozen(self.values))


@dataclass(frozen=True)
class Reading:
    """One observation of one target by one probe."""

    panel: str
    target: str
    status: Status
    reason: str
    values: Mapping[str, Any]
    observed_at: datetime
    duration: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _frozen(self.values))

    @property
    def key(self) -> tuple[str, str]:
        return (self.panel, self.target)

    def to_json(self) -> dict[str, Any]:
        """Flat JSON record: panel, target, status, reason, time, duration, then the values."""
        record: dict[str, Any] = {
            "panel": self.panel,
            "target": self.target,
            "status": self.status.value,
            "reason": self.reason,
            "observed_at": self.observed_at.isoformat(),
            "duration_seconds": round(self.duration, 6),
        }
        for name, value in self.values.items():
            record.setdefault(name, value)
        return record


# what an operator acts on first, among reasons of one severity: a refused service before a stale backup
ACT_FIRST = {"services": 0, "traffic": 1, "containers": 2, "backups": 3, "checklists": 4}

VERDICT_WORDS = {Status.OK: "go", Status.WARN: "caution", Status.CRIT: "no-go", Status.UNKNOWN: "no-go"}


@dataclass(frozen=True)
class Verdict:
    """The Go / No-Go answer derived from the latest reading of every target."""

    status: Status
    reasons: tuple[str, ...]

    @property
    def word(self) -> str:
        return VERDICT_WORDS[self.status]

    @classmethod
    def from_readings(cls, readings: Iterable[Reading]) -> Verdict:
        readings = list(readings)
        if not readings:
            return cls(Status.UNKNOWN, ("no readings yet",))
        bad = sorted((r for r in readings if r.status is not Status.OK),
                     key=lambda r: (-r.status.severity, ACT_FIRST.get(r.panel, len(ACT_FIRST)), r.panel, r.target))
        reasons = tuple(f"{r.panel}/{r.target} {r.status.value}: {r.reason}" for r in bad)
        return cls(worst(r.status for r in readings), reasons)

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.word, "status": self.status.value, "reasons": list(self.reasons)}


class Clock(Protocol):
    def now(self) -> datetime: ...
    def monotonic(self) -> float: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass
class FixedClock:
    """A clock that only moves when told to: for snapshot tests and replayable unit tests."""

    at: datetime = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
    mono: float = 1000.0

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self.at += timedelta(seconds=seconds)
        self.mono += seconds
