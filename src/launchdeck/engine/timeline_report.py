"""The launch timeline for `launchdeck report`: the flight recording's events and the ledger's records.

The same events the timeline screen shows (engine/events.py): state changes, breaches and recoveries,
problems and container events come from the recording named by `[deck] record` (its rotated files
too, oldest first); sign-offs, waivers, verifications and actions come from the ledger's verified
records, so the report has them even when no dashboard was recording. An event in both (the
engine logs the ledger's records as it reads them) is listed once. A recording that cannot be read
is said in `recording.problem`, never fatal: the report goes on with the ledger alone.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from launchdeck.engine.events import Event, EventLog, action_event
from launchdeck.engine.recorder import record_path
from launchdeck.engine.replay import RecordingError, load_recording
from launchdeck.engine.state import LiveState


def event_json(event: Event) -> dict[str, Any]:
    return {"time": event.time.isoformat(), "panel": event.panel, "target": event.target, "kind": event.kind,
            "severity": event.severity.value, "text": event.text}


def ledger_events(records: Iterable[Any]) -> list[Event]:
    """The ledger's records as the engine logs them (state.ledger_record, events.action_event)."""
    log = EventLog(limit=1_000_000)
    state = LiveState(log)
    for record in records:
        try:
            if record.kind == "action":
                panel, target, kind, severity, text = action_event(record)
                log.add(datetime.fromisoformat(record.time.replace("Z", "+00:00")), panel, target, kind, severity,
                        text)
            else:
                state.ledger_record(record)
        except (ValueError, TypeError, AttributeError):  # a record whose time does not parse: not on the timeline
            continue
    return list(log.since(0))


def build_timeline(config: Any, records: Iterable[Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(timeline entries oldest first, where they came from: the recording's path, lines skipped, problem)."""
    path: Path | None = record_path(config)
    source: dict[str, Any] = {"path": None if path is None else str(path), "events": 0, "lines_skipped": 0,
                              "problem": None if path is not None else "recording is off ([deck] record)"}
    events: list[Event] = []
    if path is not None:
        if path.exists() or path.is_symlink():
            try:
                recording = load_recording(path, with_rotated=True)
                events += recording.events
                source.update(events=len(recording.events), lines_skipped=len(recording.skipped))
            except RecordingError as error:
                source["problem"] = str(error)
        else:
            source["problem"] = "no recording yet (nothing was recorded at this path)"
    events += ledger_events(records)
    seen: set[tuple] = set()
    entries = []
    for event in sorted(events, key=lambda e: e.time):
        entry = event_json(event)
        key = (entry["time"], entry["panel"], entry["target"], entry["kind"], entry["text"])
        if key not in seen:
            seen.add(key)
            entries.append(entry)
    return entries, source


__all__ = ["build_timeline", "event_json", "ledger_events"]
