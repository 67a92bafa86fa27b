"""CommandProbe against real local processes; PostgresProbe's judgement and error wording with fake values."""

import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from launchdeck.core.config import CommandService, PostgresService, parse_config
from launchdeck.core.model import Status
from launchdeck.engine.polling import collect_once
from launchdeck.probes import build_probes
from launchdeck.probes.services.command import CommandProbe
from launchdeck.run.argv import last_line
from launchdeck.probes.services.postgres import PostgresProbe, judge, safe_message


def command(argv, **overrides) -> CommandProbe:
    return CommandProbe(CommandService(kind="command", name="cmd", argv=argv, **overrides), 5.0)


def dead(pid: int) -> bool:
    """No such process, or only its zombie (reaped by whoever PID 1 is, if it reaps at all)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


def gone(pid: int, within: float = 1.0) -> bool:
    """dead() within a moment: SIGKILL is delivered when the kernel next schedules the process."""
    deadline = time.monotonic() + within
    while not dead(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def pids_with_arg(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue  # it ended while we looked, or is not ours to read
    return [pid for pid in found if not gone(pid)]


# ------------------------------------------------------------ command


async def test_exit_zero_is_ok_with_the_last_line_as_output():
    reading = await collect_once(command([sys.executable, "-c", "print('warming up'); print('all good')"]))
    assert reading.status is Status.OK and reading.reason.startswith("exit 0 in ")
    assert reading.values["exit_code"] == 0 and reading.values["output"] == "all good"
    assert 0 < reading.values["latency_seconds"] < 5


async def test_nonzero_exit_is_crit_with_the_last_nonempty_line_from_stdout_or_stderr():
    script = "echo starting; echo 'replica is 3 commits behind' >&2; echo; exit 3"
    reading = await collect_once(command(["sh", "-c", script]))
    assert (reading.status, reading.reason) == (Status.CRIT, "exit 3: replica is 3 commits behind")
    assert reading.values["exit_code"] == 3


async def test_silent_failure_and_death_by_signal():
    assert (await collect_once(command(["false"]))).reason == "exit 1"
    reading = await collect_once(command(["sh", "-c", "kill -TERM $$"]))
    assert (reading.status, reading.reason) == (Status.CRIT, "killed by SIGTERM")


async def test_command_not_found_and_not_executable(tmp_path):
    reading = await collect_once(command(["no-such-command-xyz", "--flag"]))
    assert (reading.status, reading.reason) == (Status.CRIT, "command not found: no-such-command-xyz")
    plain = tmp_path / "not-a-program"
    plain.write_text("echo hi\n")
    plain.chmod(0o644)
    reading = await collect_once(command([str(plain)]))
    assert (reading.status, reading.reason) == (Status.CRIT, f"permission denied: {plain}")


async def test_argv_is_passed_literally_never_through_a_shell(tmp_path):
    hostile = "a; rm -rf /tmp/x $(id) `id` && echo 1 | cat * ~ $HOME"
    reading = await collect_once(command(["printf", "%s", hostile]))
    assert reading.status is Status.OK and reading.values["output"] == hostile
    marker = tmp_path / "pwned"
    for attempt in (f"; touch {marker}", f"$(touch {marker})", f"`touch {marker}`", f"| touch {marker}"):
        assert (await collect_once(command(["printf", "%s", attempt]))).values["output"] == attempt
    assert not marker.exists()
    spaced = await collect_once(command([sys.executable, "-c", "import sys; print(sys.argv[1:])", "one arg", "*"]))
    assert spaced.values["output"] == "['one arg', '*']"


async def test_latency_thresholds_apply_to_a_successful_command():
    reading = await collect_once(command(["sleep", "0.3"], latency_warn="100ms", latency_crit="5s"))
    assert reading.status is Status.WARN and reading.reason.startswith("slow (≥ ")
    reading = await collect_once(command(["sleep", "0.3"], latency_warn="100ms", latency_crit="200ms"))
    assert reading.status is Status.CRIT


async def test_timeout_kills_the_process_group_and_reaps_it():
    marker = f"30.{uuid.uuid4().int % 10**9}"  # `sleep 30.123456789`: findable in /proc, still 30 s
    started = time.monotonic()
    reading = await collect_once(command(["sleep", marker], timeout="300ms"))
    assert (reading.status, reading.reason) == (Status.UNKNOWN, "timeout after 300ms")
    assert time.monotonic() - started < 1.5
    assert pids_with_arg(marker) == [], "the timed-out command is still running"


async def test_timeout_also_kills_grandchildren(tmp_path):
    pids = tmp_path / "pids"
    script = f"sleep 30 & echo $! > {pids}; echo $$ >> {pids}; wait"
    reading = await collect_once(command(["sh", "-c", script], timeout="500ms"))
    assert reading.status is Status.UNKNOWN
    grandchild, shell = (int(line) for line in pids.read_text().split())
    assert gone(shell) and gone(grandchild)


async def test_background_leftover_neither_hangs_the_poll_nor_survives_it(tmp_path):
    pidfile = tmp_path / "pid"
    script = f"sleep 30 & echo $! > {pidfile}; echo launched"
    started = time.monotonic()
    reading = await collect_once(command(["sh", "-c", script], timeout="5s"))
    assert time.monotonic() - started < 1, "a background child holding the pipe must not hold the poll"
    assert reading.status is Status.OK and reading.values["output"] == "launched"
    assert gone(int(pidfile.read_text()))


async def test_output_is_bounded_to_its_tail():
    script = "import sys; sys.stdout.write('x' * 5_000_000 + '\\nlast words\\n')"
    reading = await collect_once(command([sys.executable, "-c", script]))
    assert reading.values["output"] == "last words"


def test_last_line_is_printable_short_and_masks_passwords():
    assert last_line(b"one\r\ntwo\r\n\r\n") == "two"
    assert last_line(b"\x1b[31mred\x1b[0m alert\x07\n") == "red alert"
    assert last_line(b"") == ""
    long = last_line(b"y" * 500)
    assert len(long) == 120 and long.endswith("…")
    assert last_line(b"cannot reach postgresql://ops:hunter22@db/app") == "cannot reach postgresql://ops:***@db/app"
    assert "hunter22" not in last_line(b"dsn: host=db password=hunter22 user=ops")
    assert last_line("caf\u00e9 \u2713".encode() + b"\xff") == "caf\u00e9 \u2713\ufffd"


async def test_many_polls_leave_no_file_descriptors_behind():
    before = len(os.listdir("/proc/self/fd"))
    probe = command(["sh", "-c", "echo out; echo err >&2"])
    for _ in range(20):
        await collect_once(probe)
    await collect_once(command(["sleep", "5"], timeout="50ms"))
    await collect_once(command(["no-such-command-xyz"]))
    assert len(os.listdir("/proc/self/fd")) <= before


# ------------------------------------------------------------ postgres judgement (no server)


def pg_spec(**overrides) -> PostgresService:
    overrides.setdefault("dsn", "host=db user=ops password=hunter22")
    return PostgresService(kind="postgres", name="db", **overrides)


def facts(**overrides):
    values = {"dsn": "host=db user=ops password=***", "latency_seconds": 0.012, "server_version": "15.18",
              "connections_used": 5, "max_connections": 100, "connections_ratio": 0.05, "in_recovery": False,
              "replication_lag_seconds": None, "oldest_xact_seconds": None}
    values.update(overrides)
    return values


def test_healthy_primary_and_replica_summaries():
    outcome = judge(pg_spec(), facts())
    assert (outcome.status, outcome.reason) == (Status.OK, "primary, 5/100 connections, 12ms")
    outcome = judge(pg_spec(), facts(in_recovery=True, replication_lag_seconds=2.5))
    assert (outcome.status, outcome.reason) == (Status.OK, "replica, lag 2.5s, 5/100 connections, 12ms")
    assert judge(pg_spec(), facts(in_recovery=True)).reason.startswith("replica, lag unknown")


@pytest.mark.parametrize("overrides, status, reason", [
    ({"connections_used": 81, "connections_ratio": 0.81}, Status.WARN, "connections 81/100 ≥ 80%"),
    ({"connections_used": 96, "connections_ratio": 0.96}, Status.CRIT, "connections 96/100 ≥ 95%"),
    ({"oldest_xact_seconds": 362.0}, Status.WARN, "transaction open for 6m02s ≥ 5m"),
    ({"oldest_xact_seconds": 4000.0}, Status.CRIT, "transaction open for 1h06m ≥ 30m"),
    ({"in_recovery": True, "replication_lag_seconds": 45.0}, Status.WARN, "replication lag 45s ≥ 30s"),
    ({"in_recovery": True, "replication_lag_seconds": 600.0}, Status.CRIT, "replication lag 10m ≥ 5m"),
    ({"latency_seconds": 0.7}, Status.WARN, "slow (≥ 500ms)"),
])
def test_each_threshold(overrides, status, reason):
    outcome = judge(pg_spec(), facts(**overrides))
    assert (outcome.status, outcome.reason) == (status, reason)


def test_lag_is_only_judged_on_a_replica_and_the_worst_problem_comes_first():
    assert judge(pg_spec(), facts(replication_lag_seconds=9999.0)).status is Status.OK
    outcome = judge(pg_spec(), facts(connections_used=85, connections_ratio=0.85, oldest_xact_seconds=2000.0,
                                     latency_seconds=0.6))
    assert outcome.status is Status.CRIT
    assert outcome.reason == "transaction open for 33m20s ≥ 30m; connections 85/100 ≥ 80%; slow (≥ 500ms)"


def test_custom_thresholds():
    spec = pg_spec(connections_warn=0.5, connections_crit=0.6, transaction_age_warn="1s", transaction_age_crit="2s")
    assert judge(spec, facts(connections_used=50, connections_ratio=0.5)).reason == "connections 50/100 ≥ 50%"
    assert judge(spec, facts(oldest_xact_seconds=1.5)).reason == "transaction open for 1.5s ≥ 1s"


def test_psycopg_messages_are_shortened_and_never_carry_the_password():
    dsn = "host=127.0.0.1 user=launchdeck password=hunter22"
    refused = psycopg.OperationalError('connection failed: connection to server at "127.0.0.1", port 5999 failed: '
                                       'Connection refused\n\tIs the server running on that host and accepting '
                                       'TCP/IP connections?')
    assert safe_message(refused, dsn, "hunter22") == "connection refused"
    auth = psycopg.OperationalError('connection failed: connection to server at "127.0.0.1", port 5432 failed: '
                                    'FATAL:  password authentication failed for user "launchdeck"')
    assert safe_message(auth, dsn, "hunter22") == 'password authentication failed for user "launchdeck"'
    multi = psycopg.OperationalError('connection failed: connection to server at "::1", port 5432 failed: FATAL:  '
                                     'database "nope" does not exist\nMultiple connection attempts failed. All '
                                     'failures were:\n- host: ...')
    assert safe_message(multi, dsn, None) == 'database "nope" does not exist'
    syntax = psycopg.ProgrammingError('missing "=" after "hunter22" in connection info string\n')
    assert safe_message(syntax, "host=db hunter22", None) == 'invalid DSN: missing "=" after "***" in connection info string'
    echo = psycopg.OperationalError(f"weird: {dsn} and hunter22")
    assert "hunter22" not in safe_message(echo, dsn, "hunter22")
    dns = psycopg.OperationalError("failed to resolve host 'db.invalid': [Errno -2] Name or service not known")
    assert safe_message(dns, dsn, None) == "DNS lookup failed for db.invalid"


async def test_an_unparseable_dsn_is_crit_without_showing_any_of_it():
    probe = PostgresProbe(PostgresService(kind="postgres", name="db", dsn="host=db user=ops hunter22"), 5.0)
    reading = await collect_once(probe)
    assert reading.status is Status.CRIT and reading.reason.startswith("invalid DSN")
    assert "hunter22" not in reading.reason + repr(dict(reading.values))


async def test_refused_port_is_crit_and_the_dsn_shown_is_redacted():
    probe = PostgresProbe(pg_spec(dsn="postgresql://ops:hunter22@127.0.0.1:1/app"), 5.0)
    reading = await collect_once(probe)
    assert (reading.status, reading.reason) == (Status.CRIT, "connection refused")
    assert reading.values["dsn"] == "postgresql://ops:***@127.0.0.1:1/app"


def test_build_probes_dispatches_every_service_kind():
    config = parse_config('[deck]\nrefresh = "9s"\n'
                          '[[services]]\nname = "db"\nkind = "postgres"\ndsn = "host=db"\n'
                          '[[services]]\nname = "port"\nkind = "tcp"\nhost = "db"\nport = 5432\n'
                          '[[services]]\nname = "cmd"\nkind = "command"\nargv = ["true"]\ninterval = "1m"\n')
    probes = build_probes(config)
    assert [type(p).__name__ for p in probes] == ["PostgresProbe", "TcpProbe", "CommandProbe"]
    assert [p.interval for p in probes] == [9.0, 9.0, 60.0]
    assert probes[2].timeout == 10.0 and asyncio.iscoroutinefunction(probes[0].aclose)
