"""Service probes against real servers: the session's PostgreSQL, loopback sockets, local processes,
and `launchdeck check --json` end to end. Nothing here skips: a server that cannot be reached fails."""

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import time

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from launchdeck.core.config import PostgresService, TcpService
from launchdeck.core.model import Reading, Status
from launchdeck.engine.polling import collect_once
from launchdeck.probes.services.http import TcpProbe
from launchdeck.probes.services.postgres import CANCEL_GRACE, PostgresProbe

from .conftest import free_port

pytestmark = pytest.mark.integration

RELAXED = {"latency_warn": "5s", "latency_crit": "10s", "transaction_age_warn": "1h", "transaction_age_crit": "2h"}


def pg(dsn: str, **overrides) -> PostgresProbe:
    return PostgresProbe(PostgresService(kind="postgres", name="db", dsn=dsn, **overrides), 5.0)


def with_params(dsn: str, **changes) -> str:
    params = conninfo_to_dict(dsn)
    params.update(changes)
    return make_conninfo(**params)


def everything_in(reading: Reading) -> str:
    return reading.reason + "\n" + json.dumps(reading.to_json(), default=str) + "\n" + repr(reading)


def sessions_named(dsn: str, application_name: str) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute("SELECT pid, state, query FROM pg_stat_activity WHERE application_name = %s",
                            (application_name,)).fetchall()


@pytest.fixture
def silent_port():
    """A listening socket that never accepts: the handshake completes, no byte ever comes back."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


# ------------------------------------------------------------ PostgreSQL


async def test_ok_reading_carries_the_servers_real_values(pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        max_connections = int(conn.execute("SHOW max_connections").fetchone()[0])
        version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
    reading = await collect_once(pg(pg_dsn, **RELAXED))
    values = reading.values
    assert reading.status is Status.OK, reading.reason
    assert values["max_connections"] == max_connections
    assert values["connections_used"] >= 1  # at least ourselves
    assert values["connections_ratio"] == round(values["connections_used"] / max_connections, 4)
    assert values["server_version"] == version
    assert values["in_recovery"] is False and values["replication_lag_seconds"] is None
    assert 0 < values["latency_seconds"] < 5
    assert reading.reason.startswith(f"primary, {values['connections_used']}/{max_connections} connections")
    assert "launchdeck-test" not in everything_in(reading)  # the session password, from the DSN
    json.dumps(reading.to_json())  # plain JSON values only


async def test_wrong_password_is_crit_and_the_password_appears_nowhere(pg_dsn):
    bad = "Wr0ng-" + secrets.token_hex(8)
    reading = await collect_once(pg(with_params(pg_dsn, password=bad)))  # no scrubber: the probe alone
    assert reading.status is Status.CRIT
    assert "authentication failed" in reading.reason and '"launchdeck"' in reading.reason
    assert bad not in everything_in(reading)
    assert all(bad not in str(value) for value in reading.values.values())


async def test_wrong_password_in_url_form_is_not_shown_either(pg_dsn):
    params = conninfo_to_dict(pg_dsn)
    bad = "Wr0ng-" + secrets.token_hex(8)
    url = f"postgresql://{params['user']}:{bad}@{params['host']}:{params['port']}/{params['dbname']}"
    reading = await collect_once(pg(url))
    assert reading.status is Status.CRIT and "authentication failed" in reading.reason
    assert bad not in everything_in(reading)


async def test_unknown_database_is_crit_with_the_servers_words(pg_dsn):
    reading = await collect_once(pg(with_params(pg_dsn, dbname="no_such_db_" + secrets.token_hex(4))))
    assert reading.status is Status.CRIT
    assert reading.reason.startswith('database "no_such_db_') and reading.reason.endswith('" does not exist')


async def test_a_held_open_transaction_warns_with_its_age(pg_dsn):
    holder = await psycopg.AsyncConnection.connect(pg_dsn)  # not autocommit: the SELECT opens a transaction
    try:
        await holder.execute("SELECT txid_current()")
        await asyncio.sleep(1.3)
        reading = await collect_once(pg(pg_dsn, **{**RELAXED, "transaction_age_warn": "1s"}))
    finally:
        await holder.rollback()
        await holder.close()
    assert reading.status is Status.WARN, reading.reason
    assert reading.values["oldest_xact_seconds"] >= 1.3
    assert reading.reason.startswith("transaction open for ") and reading.reason.endswith("≥ 1s")


async def test_server_down_is_crit_connection_refused_within_the_timeout(pg_dsn):
    reading = await collect_once(pg(with_params(pg_dsn, port=str(free_port())), timeout="2s"))
    assert (reading.status, reading.reason) == (Status.CRIT, "connection refused")
    assert reading.duration < 2


async def test_a_server_that_never_answers_times_out_on_time(pg_dsn, silent_port):
    probe = pg(with_params(pg_dsn, port=str(silent_port)), timeout="1s")
    started = time.monotonic()
    reading = await collect_once(probe)
    elapsed = time.monotonic() - started
    assert (reading.status, reading.reason) == (Status.UNKNOWN, "timeout after 1s")
    assert 0.95 <= elapsed < 1.4, f"took {elapsed:.2f}s"


class _SlowQueryProbe(PostgresProbe):
    """The real probe, but its query sleeps on the server: what a stuck server looks like."""

    @staticmethod
    async def _query(conn):
        await conn.execute("SELECT pg_sleep(30)")
        return {}


async def test_a_timed_out_query_is_cancelled_on_the_server_and_its_session_closed(pg_dsn):
    name = "launchdeck-cancel-" + secrets.token_hex(4)
    probe = _SlowQueryProbe(PostgresService(kind="postgres", name="db", dsn=with_params(pg_dsn, application_name=name),
                                            timeout="1s"), 5.0)
    started = time.monotonic()
    reading = await collect_once(probe)
    assert (reading.status, reading.reason) == (Status.UNKNOWN, "timeout after 1s")
    assert time.monotonic() - started < 1 + CANCEL_GRACE + 0.3
    deadline = time.monotonic() + 3
    while sessions_named(pg_dsn, name) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert sessions_named(pg_dsn, name) == [], "the probe's session (or its pg_sleep) outlived the timeout"


async def _freezing_proxy(target_port: int, frozen: asyncio.Event):
    """Forwards to PostgreSQL until `frozen` is set, then swallows every byte: a host that froze mid-query."""
    async def pump(reader, writer):
        try:
            while data := await reader.read(65536):
                if frozen.is_set():
                    continue
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            writer.close()

    async def handle(client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(pump(client_reader, server_writer), pump(server_reader, client_writer))

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def test_a_server_frozen_mid_query_costs_the_timeout_plus_a_short_grace(pg_dsn):
    # psycopg alone would wait 5 s for its cancel request and 5 s more for the query: 11 s in all.
    frozen = asyncio.Event()
    params = conninfo_to_dict(pg_dsn)
    proxy = await _freezing_proxy(int(params["port"]), frozen)
    port = proxy.sockets[0].getsockname()[1]

    class FreezeOnQuery(PostgresProbe):
        async def _query(self, conn):
            frozen.set()
            return await PostgresProbe._query(conn)

    probe = FreezeOnQuery(PostgresService(kind="postgres", name="db", dsn=with_params(pg_dsn, port=str(port)),
                                          timeout="1s"), 5.0)
    try:
        started = time.monotonic()
        reading = await collect_once(probe)
        elapsed = time.monotonic() - started
    finally:
        proxy.close()
    assert (reading.status, reading.reason) == (Status.UNKNOWN, "timeout after 1s")
    assert elapsed < 1 + CANCEL_GRACE + 0.5, f"took {elapsed:.2f}s"


async def test_polls_leave_no_sessions_behind(pg_dsn):
    name = "launchdeck-leak-" + secrets.token_hex(4)
    probe = pg(with_params(pg_dsn, application_name=name), **RELAXED)
    readings = [await collect_once(probe) for _ in range(10)]
    await probe.aclose()
    assert {r.status for r in readings} == {Status.OK}
    deadline = time.monotonic() + 3
    while sessions_named(pg_dsn, name) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert sessions_named(pg_dsn, name) == []


async def test_the_probe_names_its_sessions_launchdeck_by_default(pg_dsn):
    class Peek(PostgresProbe):
        @staticmethod
        async def _query(conn):
            cursor = await conn.execute("SELECT current_setting('application_name') AS name")
            peek.append((await cursor.fetchone())["name"])
            return await PostgresProbe._query(conn)

    peek: list[str] = []
    reading = await collect_once(Peek(pg(pg_dsn, **RELAXED).spec, 5.0))
    assert reading.status is Status.OK and peek == ["launchdeck"]


# ------------------------------------------------------------ TCP


async def test_tcp_against_the_real_postgres_port_and_a_refused_one(services_info):
    host, port = services_info["postgres"]["host"], int(services_info["postgres"]["port"])
    reading = await collect_once(TcpProbe(TcpService(kind="tcp", name="pg-port", host=host, port=port), 5.0))
    assert reading.status is Status.OK and reading.values["address"] == f"{host}:{port}"
    refused = await collect_once(TcpProbe(TcpService(kind="tcp", name="x", host="127.0.0.1", port=free_port()), 5.0))
    assert (refused.status, refused.reason) == (Status.CRIT, "connection refused")


# ------------------------------------------------------------ launchdeck check --json


def test_check_json_runs_postgres_tcp_and_command_probes_and_never_prints_the_password(tmp_path, pg_dsn):
    params = conninfo_to_dict(pg_dsn)
    password = params.pop("password")
    dsn = make_conninfo(**params) + " password=${LD_TEST_PG_PASSWORD}"
    config = tmp_path / "launchdeck.toml"
    config.write_text(
        '[deck]\nname = "t"\n'
        f'[[services]]\nname = "db"\nkind = "postgres"\ndsn = {json.dumps(dsn)}\n'
        'latency_warn = "5s"\nlatency_crit = "10s"\ntransaction_age_warn = "1h"\ntransaction_age_crit = "2h"\n'
        f'[[services]]\nname = "db-port"\nkind = "tcp"\nhost = "{params["host"]}"\nport = {params["port"]}\n'
        '[[services]]\nname = "disk"\nkind = "command"\nargv = ["sh", "-c", "echo checking; echo 71% used"]\n'
        'latency_warn = "0ms"\nlatency_crit = "10s"\n')
    env = {**os.environ, "LD_TEST_PG_PASSWORD": password}
    env.pop("PGPASSWORD", None)  # the password must come through the config, not libpq's environment
    result = subprocess.run([sys.executable, "-m", "launchdeck", "check", "--json", "--config", str(config)],
                            capture_output=True, text=True, timeout=60, env=env)
    assert password not in result.stdout + result.stderr
    assert result.returncode == 1, result.stdout + result.stderr  # worst is the command's (forced) warn
    readings = {r["target"]: r for r in json.loads(result.stdout)["readings"]}
    assert readings["db"]["status"] == "ok", readings["db"]
    assert readings["db"]["connections_used"] >= 1 and readings["db"]["in_recovery"] is False
    assert readings["db"]["dsn"].endswith("password=***")
    assert readings["db-port"]["status"] == "ok" and readings["db-port"]["address"] == f"{params['host']}:{params['port']}"
    assert readings["disk"]["status"] == "warn" and readings["disk"]["output"] == "71% used"
    assert readings["disk"]["exit_code"] == 0
