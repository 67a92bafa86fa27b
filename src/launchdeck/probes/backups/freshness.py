"""When is a backup fresh? Barman's `last_backup_maximum_age`, with a warning before it bites.

- ok: the newest backup is younger than 80 % of max_age;
- warn: past 80 % of max_age (the next scheduled run is due and has not landed), newer than
  min_size allows, or stamped in the future (clock skew: an age we cannot trust is not "fresh");
- crit: older than max_age, no backup at all, or the source says the newest one failed.

Ages are measured against the source's own clock where it tells us (the host's `date`, the
server's `now()`), so a skewed dashboard host cannot make a stale backup look fresh.
Reasons never carry a live number: the age has its own column, and a reason that changed every
poll would repaint its row every poll (DESIGN rule 7).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from launchdeck.core.model import Status
from launchdeck.core.units import format_duration, format_minutes, format_size

WARN_SHARE = 0.8  # warn once the newest backup is this share of max_age old
SKEW_TOLERANCE = 1.0  # seconds in the future still taken as "now" (a stamp rounded up)


@dataclass(frozen=True)
class Backup:
    """One backup as its source lists it: a dump file, a pgBackRest backup set, an archived WAL segment."""

    name: str  # file name, pgBackRest label, WAL segment name
    taken_at: datetime | None  # aware UTC: the name's stamp, the file's mtime, the backup's stop time
    size: int | None = None  # bytes
    type: str = "dump"  # dump | full | diff | incr | wal
    error: bool = False  # the source itself flags it as damaged (pgBackRest's error flag)
    time_from: str = ""  # name | mtime | stop (where taken_at came from)

    def age(self, now: datetime) -> float | None:
        return None if self.taken_at is None else (now - self.taken_at).total_seconds()

    def to_json(self, now: datetime) -> dict[str, Any]:
        age = self.age(now)
        return {"name": self.name, "taken_at": iso(self.taken_at), "age_seconds": _round(age),
                "size_bytes": self.size, "type": self.type, "error": self.error, "time_from": self.time_from}


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(timezone.utc).isoformat()


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


def age_words(seconds: float | None) -> str:
    """An age for a list: `3h05m`, `in 2h` when stamped in the future, `—` when unknown."""
    if not isinstance(seconds, (int, float)):
        return "—"
    return f"in {format_minutes(-seconds)}" if seconds < 0 else format_minutes(seconds)


def limit_text(seconds: float) -> str:
    """A configured limit as people write it: "26h" rather than "1d02h"."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:.0f}h"
    return format_duration(seconds)


def age_problem(age: float, max_age: float) -> tuple[Status, str] | None:
    """The freshness verdict for the newest backup's age (None: fresh)."""
    if age < -SKEW_TOLERANCE:
        return Status.WARN, "stamped in the future (clock skew?)"
    if age > max_age:
        return Status.CRIT, f"older than max_age {limit_text(max_age)}"
    if age > WARN_SHARE * max_age:
        return Status.WARN, f"past 80% of max_age {limit_text(max_age)}"
    return None


def size_problem(size: int | None, min_size: int | None) -> tuple[Status, str] | None:
    if min_size is not None and size is not None and size < min_size:
        return Status.WARN, f"newest is {format_size(size)}, below min_size {format_size(min_size)}"
    return None


def newest(backups: list[Backup]) -> Backup | None:
    dated = [b for b in backups if b.taken_at is not None]
    return max(dated, key=lambda b: (b.taken_at, b.name)) if dated else None


def recent(backups: list[Backup], keep: int) -> list[Backup]:
    """The `keep` newest, newest first: what the panel lists and a restore chooses from."""
    dated = sorted((b for b in backups if b.taken_at is not None), key=lambda b: (b.taken_at, b.name), reverse=True)
    return dated[:keep]


def summarise(backups: list[Backup], now: datetime, keep: int) -> dict[str, Any]:
    """The values every backup reading carries (flat, for `check --json` and the evidence language).
    A backup stamped in the future is listed but not taken as the newest while a past one exists:
    `backups.age < 26h` evidence must not pass on a skewed clock."""
    best = newest([b for b in backups if (b.age(now) or 0.0) >= -SKEW_TOLERANCE]) or newest(backups)
    return {
        "age_seconds": _round(best.age(now)) if best else None,
        "newest": best.name if best else None,
        "newest_at": iso(best.taken_at) if best else None,
        "size_bytes": best.size if best else None,
        "type": best.type if best else None,
        "count": len(backups),
        "total_bytes": sum(b.size or 0 for b in backups),
        "backups": [b.to_json(now) for b in recent(backups, keep)],
    }


def judge(backups: list[Backup], now: datetime, max_age: float, min_size: int | None = None,
          extra: list[tuple[Status, str]] | None = None, missing: str | None = "no backups found") -> tuple[Status, str]:
    """Worst problem first, every problem in the reason; when fresh, the newest backup's name.
    `missing`: the crit reason when there is no backup and `extra` does not say why."""
    best = newest(backups)
    problems = list(extra or [])
    if best is None and missing and not problems:
        problems.append((Status.CRIT, missing))
    elif best is not None:
        if (best.age(now) or 0.0) < -SKEW_TOLERANCE:
            # a stray future stamp must not hide that nothing real is fresh: judge the newest past one too
            problems.append(age_problem(best.age(now) or 0.0, max_age))
            best = newest([b for b in backups if (b.age(now) or 0.0) >= -SKEW_TOLERANCE])
        if best is not None:
            problems += [p for p in (age_problem(best.age(now) or 0.0, max_age), size_problem(best.size, min_size))
                         if p]
            if best.error:
                problems.append((Status.CRIT, f"newest backup {best.name} is flagged with errors"))
    if not problems:
        return Status.OK, best.name if best else ""
    problems.sort(key=lambda p: -p[0].severity)
    return problems[0][0], "; ".join(text for _, text in problems)
