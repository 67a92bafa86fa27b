"""The wall's few numbers, headless: one `WallSummary` built from a Snapshot, read by every wall.

The terminal wall (tui/screens/wall.py) and the browser view both draw this one object, so a TV in
the room and a laptop on the table can never disagree. The verdict is the engine's own (the
dashboard's); the figures are the numbers people read across the room, in human units, each
coloured by its own thresholds. Figures exist only for configured panels: a deck without backups
shows no "newest backup" at all rather than a grey dash that looks like a problem.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from launchdeck.core.config import Config
from launchdeck.core.history import ReadingHistory
from launchdeck.core.model import Reading, Status, Verdict, worst
from launchdeck.engine.state import Snapshot
from launchdeck.engine.tracking import Track

STALE_MIN_SECONDS = 10.0  # never call data stale sooner than this, however fast the polling
STALE_INTERVALS = 3  # missed polls of the fastest probe before the data is called stale
TREND_POINTS = 120  # newest readings per figure's trend: 10 minutes at a 5 s refresh
FIRST_PHASE = "pre-launch"  # an unfinished pre-launch list is a caution; a later phase in progress is normal work

Phases = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Figure:
    """One large number on the wall: its value in human units and the colour of that value."""

    key: str  # "error_ratio" | "p95" | "services_up" | "containers_up" | "newest_backup" | "checklist"
    label: str  # "error ratio"
    value: str  # "1.2%", "480 ms", "7/8", "26h", "12/20 pre-launch"
    status: Status
    detail: str = ""  # which target, since when, flaps: "checkout · 6m over 5% · 3 flaps" (people's text inside)
    trend: tuple[float, ...] = ()  # oldest first, in the value's own unit (ratio, seconds); empty when unknown
    scale: float | None = None  # the crit threshold a trend is drawn against (not its own maximum)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "value": self.value, "status": self.status.value,
                "detail": self.detail, "trend": list(self.trend), "scale": self.scale}


@dataclass(frozen=True)
class WallSummary:
    """Everything a wall shows, as of `taken_at`."""

    taken_at: datetime
    deck: str  # [deck] name
    environment: str  # [deck] environment
    verdict: Verdict
    figures: tuple[Figure, ...]
    newest_data_at: datetime | None  # newest reading's observed_at
    stale_after: float  # seconds of silence after which the data is called stale
    is_production: bool = False

    def data_age(self, now: datetime) -> float | None:
        """Seconds since the newest reading (None before the first one)."""
        if self.newest_data_at is None:
            return None
        return max(0.0, (now - self.newest_data_at).total_seconds())

    def is_stale(self, now: datetime) -> bool:
        """No reading for `stale_after` seconds, or none yet: a frozen wall must not look calm."""
        age = self.data_age(now)
        return age is None or age > self.stale_after

    def figure(self, key: str) -> Figure | None:
        return next((f for f in self.figures if f.key == key), None)

    def to_json(self) -> dict[str, Any]:
        """JSON-safe (strings, numbers, lists); people's text exact: serialise with core/jsontext.dumps."""
        age = self.data_age(self.taken_at)
        return {
            "taken_at": self.taken_at.isoformat(),
            "deck": self.deck,
            "environment": self.environment,
            "production": self.is_production,
            "verdict": self.verdict.word,
            "status": self.verdict.status.value,
            "reasons": list(self.verdict.reasons),
            "figures": [f.to_json() for f in self.figures],
            "newest_data_at": self.newest_data_at.isoformat() if self.newest_data_at else None,
            "data_age_seconds": None if age is None else round(age, 3),
            "stale_after_seconds": self.stale_after,
            "stale": self.is_stale(self.taken_at),
        }


def summarize(snapshot: Snapshot, config: Config, checklists: tuple | None = None,
              history: ReadingHistory | None = None) -> WallSummary:
    """The wall's summary of one snapshot. `checklists`: ((phase, done, total), ...) or a whole
    ChecklistNotice.summary; `history` (the engine's) adds trends to the traffic figures."""
    by_panel: dict[str, list[Reading]] = {}
    for reading in snapshot.readings.values():
        by_panel.setdefault(reading.panel, []).append(reading)
    figures: list[Figure] = []
    if config.traffic:
        traffic = by_panel.get("traffic", [])
        thresholds = {t.name: t for t in config.traffic}
        figures.append(_traffic_figure("error_ratio", "error ratio", "error_ratio", traffic, thresholds,
                                       format_ratio, snapshot.tracks, history))
        figures.append(_traffic_figure("p95", "p95", "p95_seconds", traffic, thresholds, format_p95,
                                       snapshot.tracks, history))
    if config.services:
        figures.append(_services_figure(by_panel.get("services", []), len(config.services), snapshot.tracks))
    if config.containers:
        figures.append(_containers_figure(by_panel.get("containers", [])))
    if config.backups:
        figures.append(_backups_figure(by_panel.get("backups", []), len(config.backups)))
    if checklists is not None or config.checklists is not None:
        figures.append(_checklist_figure(checklists))
    newest = max((r.observed_at for r in snapshot.readings.values()), default=None)
    return WallSummary(snapshot.taken_at, config.deck.name, config.deck.environment, snapshot.verdict,
                       tuple(figures), newest, stale_after(config), config.deck.is_production)


def stale_after(config: Config) -> float:
    """3 polls of the fastest configured probe, at least 10 s: the newest reading is never older than
    one interval of that probe while the engine runs."""
    refresh = config.deck.refresh
    intervals = [s.interval or refresh for s in config.services]
    intervals += [t.interval or refresh for t in config.traffic]
    intervals += [c.interval or refresh for c in config.containers]
    intervals += [b.interval for b in config.backups]
    return max(STALE_MIN_SECONDS, STALE_INTERVALS * min(intervals, default=refresh))


# ---------------------------------------------------------------- units people read across a room

def format_ratio(ratio: float) -> str:
    """0.0042 → 0.42%, 0.012 → 1.2%, 0.25 → 25%."""
    percent = ratio * 100
    if percent < 1:
        return f"{percent:.2f}%"
    if percent < 10:
        return f"{percent:.1f}%"
    return f"{percent:.0f}%"


def format_p95(seconds: float) -> str:
    """0.48 → 480 ms, 1.25 → 1.2 s, 12 → 12 s."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    return f"{seconds:.0f} s"


def format_age(seconds: float) -> str:
    """A backup's age as the config writes max_age: 45m, 26h, 5d."""
    if seconds < 3600:
        return f"{max(0, int(seconds // 60))}m"
    if seconds < 100 * 3600:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


# ---------------------------------------------------------------- one figure per panel

def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _by_threshold(value: float, warn: float, crit: float) -> Status:
    return Status.CRIT if value > crit else Status.WARN if value > warn else Status.OK


def _flaps(track: Track | None) -> str:
    return f"{track.flaps} flaps" if track is not None and track.flaps > 1 else \
        "1 flap" if track is not None and track.flaps == 1 else ""


def _traffic_figure(key: str, label: str, field_name: str, readings: list[Reading], thresholds: Mapping[str, Any],
                    shown, tracks: Mapping, history: ReadingHistory | None) -> Figure:
    """The worst target's value (by its own thresholds, then by size), its breach time and its trend."""
    metric = "error_ratio" if key == "error_ratio" else "p95"
    candidates = []
    for reading in readings:
        value = _number(reading.values.get(field_name))
        spec = thresholds.get(reading.target)
        if value is None or spec is None:
            continue
        warn, crit = getattr(spec, f"{metric}_warn"), getattr(spec, f"{metric}_crit")
        status = _by_threshold(value, warn, crit)
        if status is Status.CRIT and reading.status is not Status.CRIT:
            status = Status.WARN  # past crit but not yet for its `for:` duration: the judge says warn, so do we
        candidates.append((status, value / crit if crit else value, value, reading, crit))
    if not candidates:
        unknown = [r for r in readings if r.status is Status.UNKNOWN]
        return Figure(key, label, "—", Status.UNKNOWN, "no data yet" if not unknown else f"{len(unknown)} unknown")
    status, _, value, reading, crit = max(candidates, key=lambda c: (c[0].severity, c[1]))
    parts = [reading.target] if len(thresholds) > 1 else []
    breach = _number(reading.values.get(f"{metric}_breach_seconds"))
    if breach is not None and status is not Status.OK:
        parts.append(f"over for {format_age(breach) if breach >= 60 else f'{breach:.0f}s'}")
    flaps = _flaps(tracks.get(reading.key))
    if flaps:
        parts.append(flaps)
    trend: tuple[float, ...] = ()
    if history is not None:
        trend = _trend(history, reading, field_name)
    return Figure(key, label, shown(value), status, " · ".join(parts), trend, crit)


def _trend(history: ReadingHistory, reading: Reading, field_name: str) -> tuple[float, ...]:
    """The newest TREND_POINTS values, oldest first. A view reads the engine's history from its own
    thread while the engine appends: a deque changed during the copy raises, and the next try is
    almost always clean; after three, no trend this time (the next summary has one)."""
    for _ in range(3):
        try:
            readings = list(islice(history.newest_first(reading.panel, reading.target), TREND_POINTS))
        except RuntimeError:  # deque mutated during iteration, by the engine's thread
            continue
        return tuple(reversed([p for r in readings if (p := _number(r.values.get(field_name))) is not None]))
    return ()


def _up_status(readings: Iterable[Reading], missing: int) -> Status:
    statuses = [r.status for r in readings] + [Status.UNKNOWN] * missing
    return worst(statuses) if statuses else Status.UNKNOWN


def _services_figure(readings: list[Reading], configured: int, tracks: Mapping) -> Figure:
    """Up = answering (ok or warn: slow is up); down names the first ones."""
    total = max(configured, len(readings))
    up = [r for r in readings if r.status in (Status.OK, Status.WARN)]
    down = sorted(r.target for r in readings if r.status is Status.CRIT)
    unknown = total - len(up) - len(down)
    parts = []
    if down:
        parts.append("down: " + ", ".join(down[:3]) + (f" +{len(down) - 3}" if len(down) > 3 else ""))
    if unknown:
        parts.append(f"{unknown} unknown")
    flapping = sum(1 for r in readings if (t := tracks.get(r.key)) is not None and t.flaps > 1)
    if flapping:
        parts.append(f"{flapping} flapping")
    return Figure("services_up", "services up", f"{len(up)}/{total}",
                  _up_status(readings, total - len(readings)), " · ".join(parts))


def _containers_figure(readings: list[Reading]) -> Figure:
    """Running containers of those listed; a host that cannot be read is unknown, and said."""
    listed = [r for r in readings if "state" in r.values]
    hosts = [r for r in readings if "state" not in r.values]
    running = [r for r in listed if r.values.get("state") == "running"]
    parts = [f"{r.target}: {r.status.value}" for r in hosts if r.status is not Status.OK][:2]
    stopped = sorted(str(r.values.get("name") or r.target) for r in listed if r.values.get("state") != "running")
    if stopped:
        parts.insert(0, "not running: " + ", ".join(stopped[:3]) + (f" +{len(stopped) - 3}" if len(stopped) > 3 else ""))
    if not readings:
        return Figure("containers_up", "containers up", "—", Status.UNKNOWN, "no data yet")
    value = f"{len(running)}/{len(listed)}" if listed else "—"
    return Figure("containers_up", "containers up", value, _up_status(readings, 0), " · ".join(parts))


def _backups_figure(readings: list[Reading], configured: int) -> Figure:
    """The oldest of each source's newest backup: the one that decides whether a restore is possible."""
    aged = [(age, r) for r in readings if (age := _number(r.values.get("age_seconds"))) is not None]
    status = _up_status(readings, max(0, configured - len(readings)))
    if not aged:
        return Figure("newest_backup", "newest backup", "—", status,
                      "no data yet" if not readings else "; ".join(r.reason for r in readings)[:120])
    age, reading = max(aged, key=lambda pair: (pair[1].status.severity, pair[0]))
    limit = _number(reading.values.get("max_age_seconds"))
    parts = [reading.target] if configured > 1 else []
    if limit:
        parts.append(f"max {format_age(limit)}")
    return Figure("newest_backup", "newest backup", format_age(age), status, " · ".join(parts))


def _checklist_figure(checklists: tuple | None) -> Figure:
    """Progress of the current phase: the first one not yet complete (the last one when all are)."""
    failing, problem = 0, ""
    if checklists and len(checklists) == 4 and isinstance(checklists[1], int):  # a whole ChecklistNotice.summary
        checklists, failing, _no_data, problem = checklists
    phases: Phases = tuple(checklists or ())
    if not phases:
        return Figure("checklist", "checklist", "—", Status.UNKNOWN, problem or "no checklist read yet")
    current = next((p for p in phases if p[1] < p[2]), phases[-1])
    name, done, total = current
    status = Status.OK if done >= total else Status.WARN if name == FIRST_PHASE else Status.OK
    parts = []
    if failing:
        status = worst((status, Status.WARN))
        parts.append(f"{failing} failing evidence")
    if problem:
        status = Status.CRIT
        parts.append(problem)
    return Figure("checklist", "checklist", f"{done}/{total} {name}", status, " · ".join(parts))


__all__ = ["Figure", "WallSummary", "format_age", "format_p95", "format_ratio", "stale_after", "summarize"]
