"""PostgreSQL health: can a client connect, how full is it, is a replica behind, is a transaction stuck.

One fresh connection per poll, closed at once. A kept connection would be cheaper, but it would
hide exactly the failures an application sees first: a server that stopped accepting connections
("too many clients", pg_hba changes, a failover to another host) still answers on an old socket.
The cost is one connection (and one SCRAM handshake) per interval, which is negligible at the
intervals a dashboard polls. The connection is `autocommit` (never "idle in transaction").

The monitoring role needs `pg_monitor` (or superuser) to see other sessions' state and xact_start
in pg_stat_activity; without it the oldest-transaction check only sees its own sessions.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from typing import Any, Mapping

from launchdeck.core.config import PostgresService
from launchdeck.core.model import Outcome, Status
from launchdeck.core.redact import MASK, redact_dsn
from launchdeck.core.units import format_duration, format_latency
from launchdeck.probes.services.http import ServiceProbe, judge_latency

# One round trip. connections_used counts client backends only: background workers, walsenders
# and autovacuum have their own slots and do not count against max_connections. On a replica that
# has replayed everything it received, lag is 0 even if the primary has been idle for hours.
QUERY = """
SELECT
  split_part(current_setting('server_version'), ' ', 1) AS server_version,
  current_setting('max_connections')::int AS max_connections,
  (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS connections_used,
  pg_is_in_recovery() AS in_recovery,
  CASE
    WHEN NOT pg_is_in_recovery() THEN NULL
    WHEN pg_last_wal_receive_lsn() IS NOT NULL AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())
  END::float8 AS replication_lag_seconds,
  (SELECT extract(epoch FROM max(now() - xact_start)) FROM pg_stat_activity
    WHERE state <> 'idle' AND xact_start IS NOT NULL AND pid <> pg_backend_pid())::float8 AS oldest_xact_seconds
"""

# After the engine's timeout cancels a query, psycopg asks the server to cancel it and waits up to
# 5 s + 5 s; on a frozen server that would hold the engine 10 s past its timeout. We allow this long.
CANCEL_GRACE = 0.5

_ATTEMPT_PREFIX = re.compile(r"^connection to server (?:at|on socket) .*? failed:\s*")
_SEVERITY_PREFIX = re.compile(r"^(?:FATAL|ERROR):\s+")
_QUOTED = re.compile(r'"[^"]*"')
_DNS_FAILURE = re.compile(r"^failed to resolve host '([^']*)':.*$")


def _percent(ratio: float) -> str:
    return f"{round(ratio * 100, 1):g}%"


def judge(spec: PostgresService, values: Mapping[str, Any]) -> Outcome:
    """Worst of connections, replication lag (replica only), oldest transaction and latency.

    The reason lists every problem, worst first; when all is well it summarises the server.
    """
    problems: list[tuple[Status, str]] = []
    used, limit = values["connections_used"], values["max_connections"]
    ratio = values["connections_ratio"]
    for level, threshold in ((Status.CRIT, spec.connections_crit), (Status.WARN, spec.connections_warn)):
        if ratio >= threshold:
            problems.append((level, f"connections {used}/{limit} ≥ {_percent(threshold)}"))
            break
    lag = values.get("replication_lag_seconds")
    if values.get("in_recovery") and lag is not None:
        for level, threshold in ((Status.CRIT, spec.replication_lag_crit), (Status.WARN, spec.replication_lag_warn)):
            if lag >= threshold:
                problems.append((level, f"replication lag {format_duration(lag)} ≥ {format_duration(threshold)}"))
                break
    age = values.get("oldest_xact_seconds")
    if age is not None:
        for level, threshold in ((Status.CRIT, spec.transaction_age_crit), (Status.WARN, spec.transaction_age_warn)):
            if age >= threshold:
                problems.append((level, f"transaction open for {format_duration(age)} "
                                        f"≥ {format_duration(threshold)}"))
                break
    latency = values["latency_seconds"]
    level, slow = judge_latency(latency, spec.latency_warn, spec.latency_crit)
    if slow:
        problems.append((level, slow))
    if problems:
        problems.sort(key=lambda p: -p[0].severity)  # stable: equal severities keep the order above
        return Outcome(problems[0][0], "; ".join(text for _, text in problems), values)
    role = "replica" if values.get("in_recovery") else "primary"
    if values.get("in_recovery"):
        role += f", lag {format_duration(lag)}" if lag is not None else ", lag unknown"
    return Outcome(Status.OK, f"{role}, {used}/{limit} connections, {format_latency(latency)}", values)


def safe_message(error: BaseException, dsn: str, password: str | None) -> str:
    """psycopg's words for a failure, shortened, with no trace of the DSN or its password.

    libpq's DSN syntax errors quote the token they choke on, which may be the password itself
    ('missing "=" after "hunter2"'), so every quoted fragment of such an error is masked.
    """
    import psycopg

    text = str(error).strip()
    if isinstance(error, psycopg.ProgrammingError) and "connection info string" in text:
        text = "invalid DSN: " + _QUOTED.sub(lambda m: m.group(0) if m.group(0) == '"="' else f'"{MASK}"', text)
    text = text.splitlines()[0] if text else type(error).__name__  # the last attempt's error first
    for prefix in ("connection failed: ", "connection is bad: "):
        text = text.removeprefix(prefix)
    text = _SEVERITY_PREFIX.sub("", _ATTEMPT_PREFIX.sub("", text)).strip()
    if text.startswith("Connection refused"):
        text = "connection refused"
    text = _DNS_FAILURE.sub(r"DNS lookup failed for \1", text)
    for secret in (dsn, password):
        if secret and len(secret) >= 3:
            text = text.replace(secret, MASK)
    return text or type(error).__name__


class PostgresProbe(ServiceProbe):
    """Connect, run one query, judge it; psycopg errors become crit readings with safe wording."""

    def __init__(self, spec: PostgresService, default_interval: float) -> None:
        super().__init__(spec, default_interval)
        self.display_dsn = redact_dsn(spec.dsn)
        self._params: dict[str, Any] | None = None

    def _connect_params(self) -> dict[str, Any]:
        """The DSN parsed once (psycopg imported lazily): to know the password, and to name ourselves."""
        from psycopg.conninfo import conninfo_to_dict

        if self._params is None:
            self._params = conninfo_to_dict(self.spec.dsn)
        return self._params

    def _failure(self, error: BaseException) -> Outcome:
        password = (self._params or {}).get("password")
        reason = safe_message(error, self.spec.dsn, str(password) if password else None)
        return Outcome(Status.CRIT, reason, {"dsn": self.display_dsn})

    async def prepare(self) -> None:
        """psycopg's import (~150 ms) happens here, before any latency is timed."""
        import psycopg  # noqa: F401
        from psycopg.rows import dict_row  # noqa: F401

    async def collect(self) -> Outcome:
        import psycopg
        from psycopg.rows import dict_row

        try:
            params = self._connect_params()
        except psycopg.Error as error:  # unparseable: no telling which part is the password
            return Outcome(Status.CRIT, safe_message(error, self.spec.dsn, None), {"dsn": MASK})
        extra: dict[str, Any] = {"connect_timeout": max(1, math.ceil(self.timeout))}
        if "application_name" not in params:
            extra["application_name"] = "launchdeck"  # so a DBA can tell the monitor's sessions apart
        started = time.perf_counter()
        try:
            conn = await psycopg.AsyncConnection.connect(self.spec.dsn, autocommit=True, row_factory=dict_row,
                                                         **extra)
        except psycopg.errors.ConnectionTimeout:
            raise TimeoutError from None  # the engine words it: "timeout after 2s"
        except psycopg.Error as error:
            return self._failure(error)
        try:
            row = await _cancel_promptly(self._query(conn))
        except psycopg.Error as error:
            return self._failure(error)
        finally:
            await conn.close()  # only drops the socket: never waits on the server
        latency = time.perf_counter() - started
        return judge(self.spec, self._values(row, latency))

    @staticmethod
    async def _query(conn: Any) -> dict[str, Any]:
        cursor = await conn.execute(QUERY, prepare=False)
        row = await cursor.fetchone()
        return dict(row or {})

    def _values(self, row: Mapping[str, Any], latency: float) -> dict[str, Any]:
        used, limit = int(row["connections_used"]), int(row["max_connections"])
        lag, age = row["replication_lag_seconds"], row["oldest_xact_seconds"]
        return {
            "dsn": self.display_dsn,
            "latency_seconds": round(latency, 6),
            "server_version": str(row["server_version"]),
            "connections_used": used,
            "max_connections": limit,
            "connections_ratio": round(used / limit, 4) if limit else 0.0,
            "in_recovery": bool(row["in_recovery"]),
            "replication_lag_seconds": None if lag is None else round(max(0.0, float(lag)), 3),
            "oldest_xact_seconds": None if age is None else round(max(0.0, float(age)), 3),
        }



async def _cancel_promptly(coro: Any) -> Any:
    """Await `coro` in its own task so that, when we are cancelled, psycopg gets CANCEL_GRACE to
    cancel the query on the server; a second cancel then makes it drop the connection instead."""
    task = asyncio.ensure_future(coro)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=CANCEL_GRACE)
        if not done:
            task.cancel()
            await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # mark it retrieved: what we report is the cancellation, not the aftermath
        raise
