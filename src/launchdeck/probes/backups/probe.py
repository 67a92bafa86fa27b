"""Backups panel: one probe per [[backups]] source, one reading per source.

A source is read here or on a [[hosts]] entry over the shared SSH pool: a dump directory by one
`find` (backups/listing.py), pgBackRest by `pgbackrest info --output=json`, WAL archiving by one
query of pg_stat_archiver (psycopg, fresh autocommit connection with connect_timeout). The reading
carries the newest backup (`newest`, `newest_at`, `age_seconds`, `size_bytes`), the source
(`source`, `location`) and the `keep` most recent backups (`backups`): the list a restore picks from.
Every run and query is bounded by the source's timeout, inside the engine's, so our words win.
"""

from __future__ import annotations

import math
from typing import Any

from launchdeck.probes.backups.archiver import QUERY, read_archiver
from launchdeck.probes.backups.freshness import Backup, judge, summarise
from launchdeck.probes.backups.listing import list_argv, parse_listing
from launchdeck.probes.backups.pgbackrest import info_argv, parse_info
from launchdeck.run.argv import run_argv
from launchdeck.core.config import BackupConfig, HostConfig
from launchdeck.core.model import Clock, Outcome, Status, SystemClock
from launchdeck.core.redact import redact_dsn

PANEL = "backups"
OWN_SHARE = 0.9  # of the engine's timeout, for our own command / query deadline


class BackupProbe:
    panel = PANEL

    def __init__(self, spec: BackupConfig, host: HostConfig | None = None, connections: Any = None,
                 clock: Clock | None = None) -> None:
        self.spec, self.host, self.connections = spec, host, connections
        self.target = spec.name
        self.interval = spec.interval
        self.timeout = spec.timeout
        self.clock = clock or SystemClock()
        self.location = describe_location(spec)

    async def collect(self) -> Outcome:
        spec = self.spec
        base = {"source": spec.kind, "location": self.location, "host": spec.host or "local",
                "max_age_seconds": spec.max_age}
        try:
            if spec.kind == "wal":
                now, backups, problems, values = await self._archiver()
            else:
                now, backups, problems, values = await self._listing()
        except TimeoutError:
            return Outcome(Status.UNKNOWN, f"no answer from {self.location} within {self.timeout * OWN_SHARE:g}s",
                           base)
        except Exception as error:  # RemoteError (SSH down, host key), psycopg errors: worded for the row
            return Outcome(Status.UNKNOWN, self._describe(error), base)
        now = now or self.clock.now()
        status, reason = judge(backups, now, spec.max_age, spec.min_size, problems,
                               missing=None if spec.kind == "wal" else "no backups found")
        return Outcome(status, reason, base | values | summarise(backups, now, spec.keep))

    async def _listing(self) -> tuple[Any, list[Backup], list[tuple[Status, str]], dict[str, Any]]:
        spec = self.spec
        timeout = self.timeout * OWN_SHARE
        if spec.kind == "directory":
            run = await run_argv(list_argv(spec.path, spec.pattern), timeout, self.host, self.connections)
            listing = parse_listing(run, spec.path, spec.pattern, spec.name_time, spec.name_timezone)
            return listing.now, listing.backups, [listing.problem] if listing.problem else [], {}
        run = await run_argv(info_argv(spec.command, spec.stanza), timeout, self.host, self.connections)
        info = parse_info(run, spec.command, spec.stanza)
        now = info.now or self.clock.now()
        if len(info.by_stanza) > 1:  # each stanza on its own: the newest set overall says nothing of the others
            for name, sets in info.by_stanza.items():
                status, reason = judge(sets, now, spec.max_age, spec.min_size)
                if status is not Status.OK:
                    info.problems.append((status, f"stanza {name}: {reason}"))
        return info.now, info.backups, info.problems, info.values

    async def _archiver(self) -> tuple[Any, list[Backup], list[tuple[Status, str]], dict[str, Any]]:
        import psycopg
        from psycopg.rows import dict_row

        try:
            conn = await psycopg.AsyncConnection.connect(
                self.spec.dsn, autocommit=True, row_factory=dict_row, application_name="launchdeck",
                connect_timeout=max(1, math.ceil(self.timeout * OWN_SHARE)), **await self._tunnel())
        except psycopg.errors.ConnectionTimeout:
            raise TimeoutError from None
        try:
            cursor = await conn.execute(QUERY, prepare=False)
            row = await cursor.fetchone()
        finally:
            await conn.close()
        return read_archiver(row)

    async def _tunnel(self) -> dict[str, Any]:
        """With a host, connect through it: the DSN's host and port are as the host sees them
        (often its own localhost); we reach them through an SSH-forwarded loopback port."""
        if self.host is None:
            return {}
        from psycopg.conninfo import conninfo_to_dict

        params = conninfo_to_dict(self.spec.dsn or "")
        where, port = str(params.get("host") or "localhost").split(",")[0], int(params.get("port") or 5432)
        if where.startswith("/"):  # peer authentication would see sshd's user, not ours: say so plainly
            raise ValueError(f"{self.host.name}: a unix-socket dsn cannot be reached over SSH; "
                             "use host=localhost (TCP) in the dsn")
        return {"host": "127.0.0.1", "port": await self.connections.forward_tcp(self.host, where, port)}

    def _describe(self, error: Exception) -> str:
        if type(error).__module__.startswith("psycopg"):
            from psycopg.conninfo import conninfo_to_dict

            from launchdeck.probes.services.postgres import safe_message

            try:
                password = conninfo_to_dict(self.spec.dsn or "").get("password")
            except Exception:  # unparseable DSN: safe_message masks its quoted fragments itself
                password = None
            return f"{self.location}: {safe_message(error, self.spec.dsn or '', str(password) if password else None)}"
        return str(error) or type(error).__name__

    async def aclose(self) -> None:
        """Nothing to close: commands end within collect, and the SSH pool is closed by its owner."""


def describe_location(spec: BackupConfig) -> str:
    """Where a source lives, as the panel and the JSON name it (a DSN without its password)."""
    where = f"{spec.host}:" if spec.host else ""
    if spec.kind == "directory":
        return f"{where}{spec.path}/{spec.pattern}"
    if spec.kind == "pgbackrest":
        return f"{where}pgbackrest stanza {spec.stanza}" if spec.stanza else f"{where}pgbackrest (all stanzas)"
    return f"{where}{redact_dsn(spec.dsn or '')}"
