"""WAL archiving from `pg_stat_archiver`: is every finished WAL segment leaving the server?

Point-in-time recovery needs the WAL between base backups; an archive_command that fails keeps
WAL piling up in pg_wal until the disk fills. Readable by any role. Times are compared with the
server's own now(), so ages do not depend on the dashboard host's clock.
- crit: archive_mode off, or the last failure is newer than the last success (failing now);
- warn: nothing archived since the statistics were reset (a new or idle cluster);
- otherwise the newest archived segment's age against max_age, like any backup.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from launchdeck.core.model import Status
from launchdeck.probes.backups.freshness import Backup, iso

QUERY = """
SELECT archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal,
       last_failed_time, stats_reset, now() AS now,
       current_setting('archive_mode') AS archive_mode,
       pg_size_bytes(current_setting('wal_segment_size')) AS wal_segment_size
FROM pg_stat_archiver
"""


def read_archiver(row: Mapping[str, Any]) -> tuple[datetime, list[Backup], list[tuple[Status, str]], dict[str, Any]]:
    """(server now, the last archived segment as a Backup, problems, values) from QUERY's row."""
    now = row["now"]
    archived_at, failed_at = row["last_archived_time"], row["last_failed_time"]
    backups = [Backup(row["last_archived_wal"], archived_at, int(row["wal_segment_size"]), "wal", time_from="archiver")
               ] if row["last_archived_wal"] and archived_at else []
    problems: list[tuple[Status, str]] = []
    if row["archive_mode"] == "off":
        problems.append((Status.CRIT, "archive_mode is off: WAL is not archived"))
    elif failed_at is not None and (archived_at is None or failed_at > archived_at):
        problems.append((Status.CRIT, f"archiving failing: {row['last_failed_wal']} failed, "
                                      f"{row['failed_count']} failures since stats reset"))
    elif not backups:
        problems.append((Status.WARN, "no WAL archived since the statistics were reset"))
    values = {"archived_count": int(row["archived_count"]), "failed_count": int(row["failed_count"]),
              "last_failed_wal": row["last_failed_wal"], "last_failed_at": iso(failed_at),
              "archive_mode": row["archive_mode"], "stats_reset": iso(row["stats_reset"])}
    return now, backups, problems, values
