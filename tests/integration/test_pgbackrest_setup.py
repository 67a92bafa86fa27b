"""The pgBackRest stanza and WAL archiving that services.sh sets up are real.

These prove the fixtures (and so the environment) rather than launchdeck
code: a full backup lands in the repository and `pgbackrest info` reports it,
and the server's archiver pushes WAL through archive-push without failures.
"""

from __future__ import annotations

import json
import subprocess

from .conftest import ArchivedWal, PgBackRestBackup, pgbackrest_cmd


def test_full_backup_is_listed_by_info(pgbackrest_backup: PgBackRestBackup) -> None:
    out = subprocess.run(
        pgbackrest_cmd(pgbackrest_backup.config, pgbackrest_backup.stanza, "info", "--output=json"),
        cwd="/",
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    [stanza] = [s for s in json.loads(out) if s["name"] == pgbackrest_backup.stanza]
    backups = {b["label"]: b for b in stanza["backup"]}
    assert pgbackrest_backup.label in backups
    backup = backups[pgbackrest_backup.label]
    assert backup["type"] == "full"
    assert backup["error"] is False
    assert backup["timestamp"]["start"] <= backup["timestamp"]["stop"]
    assert pgbackrest_backup.started_at - 1 <= backup["timestamp"]["stop"] <= pgbackrest_backup.finished_at + 1
    # The stanza is healthy now that it has a backup.
    assert stanza["status"]["code"] == 0, stanza["status"]


def test_archiver_advances_without_failures(archived_wal: ArchivedWal) -> None:
    assert archived_wal.archived_count > archived_wal.archived_count_before
    assert archived_wal.failed_count == archived_wal.failed_count_before
    assert archived_wal.last_archived_wal and len(archived_wal.last_archived_wal) == 24
    assert archived_wal.last_archived_time is not None
