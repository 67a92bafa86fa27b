"""`pgbackrest info --output=json`: per stanza, the newest backup of each type, its status, its archive.

The JSON is a list of stanzas. Each has `status` ({code, message}: 0 is ok; 1 missing stanza
path, 2 no valid backups, 3 missing stanza data, 4 different cluster version, 5 different cluster
identifier, 6 a backup/expire lock is held, 99 other), `backup` (sets with label, type
full/diff/incr, timestamp.start/stop in epoch seconds, info.size / info.repository.size, and
`error` when pgBackRest found damage while copying) and `archive` (min/max WAL per database id).
A non-zero code is crit (a running backup is code 0 with `status.lock.backup.held`); the reason
takes the repository's own message when it says more (code 99 "other" hides e.g. "[PathOpenError]
... Permission denied", which means we cannot look: unknown). With several stanzas, each one is
judged on its own sets (`by_stanza`): a fresh stanza must not hide a stale one.
The host's clock is printed before `info` runs (`date; exec pgbackrest ...`) to measure ages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from launchdeck.run.argv import NOT_FOUND, last_words
from launchdeck.core.model import Status
from launchdeck.run.ssh import CompletedRun
from launchdeck.probes.backups.freshness import Backup, iso
from launchdeck.probes.backups.listing import _epoch

INFO_SCRIPT = 'date +%s.%N; exec "$@"'
TYPES = ("full", "diff", "incr")


def info_argv(command: list[str], stanza: str | None) -> list[str]:
    argv = [*command, "info", "--output=json"] + ([f"--stanza={stanza}"] if stanza else [])
    return ["sh", "-c", INFO_SCRIPT, "launchdeck-info", *argv]


@dataclass
class StanzaInfo:
    now: datetime | None
    backups: list[Backup] = field(default_factory=list)
    problems: list[tuple[Status, str]] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    by_stanza: dict[str, list[Backup]] = field(default_factory=dict)


def parse_info(run: CompletedRun, command: list[str], stanza: str | None) -> StanzaInfo:
    clock, _, body = run.stdout.partition("\n")
    info = StanzaInfo(_epoch(clock))
    if run.exit_status != 0:
        info.problems.append(_failure(run, command))
        return info
    try:
        stanzas = json.loads(body)
    except json.JSONDecodeError as error:
        info.problems.append((Status.UNKNOWN, f"`{command[-1]} info` printed no JSON ({error.msg})"))
        return info
    if not isinstance(stanzas, list) or not stanzas:
        info.problems.append((Status.CRIT, f"no stanza {stanza!r}" if stanza else "pgBackRest knows no stanza"))
        return info
    many = len(stanzas) > 1
    info.values["stanzas"] = [_stanza(entry, info, many) for entry in stanzas if isinstance(entry, dict)]
    return info


def _stanza(entry: dict[str, Any], info: StanzaInfo, many: bool) -> dict[str, Any]:
    """Fold one stanza into `info`; return its summary (status, newest per type, archive range)."""
    name = str(entry.get("name", "?"))
    status = entry.get("status") or {}
    code, message = status.get("code"), str(status.get("message", "")).strip()
    repo_words = [str((r.get("status") or {}).get("message", "")).strip() for r in entry.get("repo") or []
                  if isinstance(r, dict) and (r.get("status") or {}).get("code") not in (0, None)]
    if code != 0:
        detail = "; ".join(w for w in repo_words if w) or message or f"status {code}"
        level = Status.UNKNOWN if "Permission denied" in detail else Status.CRIT
        info.problems.append((level, f"stanza {name}: {detail} (code {code})"))
    sets = [_backup(item, name if many else "") for item in entry.get("backup") or [] if isinstance(item, dict)]
    info.by_stanza[name] = [b for b in sets if b is not None]
    info.backups += info.by_stanza[name]
    latest = {}
    for kind in TYPES:
        of_kind = [b for b in sets if b is not None and b.type == kind]
        if of_kind:
            best = max(of_kind, key=lambda b: b.taken_at)
            latest[kind] = {"label": best.name, "stop": iso(best.taken_at), "size_bytes": best.size}
    archives = [a for a in entry.get("archive") or [] if isinstance(a, dict)]
    return {"name": name, "status_code": code, "status": message, "latest": latest,
            "archive_min": min((a.get("min") for a in archives if a.get("min")), default=None),
            "archive_max": max((a.get("max") for a in archives if a.get("max")), default=None)}


def _backup(item: dict[str, Any], stanza: str) -> Backup | None:
    stamp = (item.get("timestamp") or {}).get("stop")
    if not isinstance(stamp, (int, float)):
        return None
    size = (item.get("info") or {}).get("size")
    label = str(item.get("label", "?"))
    return Backup(f"{stanza}:{label}" if stanza else label, datetime.fromtimestamp(stamp, timezone.utc),
                  size if isinstance(size, int) else None, str(item.get("type", "full")), bool(item.get("error")),
                  time_from="stop")


def _failure(run: CompletedRun, command: list[str]) -> tuple[Status, str]:
    program = next((word for word in command if "pgbackrest" in word), command[0])
    if run.exit_status == NOT_FOUND:
        return Status.UNKNOWN, f"`{program}` is not installed (or not on PATH) there"
    return Status.UNKNOWN, f"`{program} info` failed: {last_words(run)}"
