"""The Backups panel against real components: dumps made by the real pg_dump with controlled ages,
listed here and over the loopback sshd (same filesystem, so both must read the same); the session's
pgBackRest stanza; pg_stat_archiver; bad input; `launchdeck backups verify` with the real gzip,
pg_restore and sha256sum, recorded in the sign-off ledger. Nothing here skips."""

import gzip
import json
import os
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from launchdeck.probes.backups.integrity import verify_backup
from launchdeck.audit.ledger import Ledger
from launchdeck.core.config import BackupConfig, HostConfig
from launchdeck.core.model import Status
from launchdeck.engine.polling import collect_once
from launchdeck.probes.backups.probe import BackupProbe
from launchdeck.run.ssh import Connections

from .conftest import free_port

pytestmark = pytest.mark.integration

HOUR = 3600.0
STAMP = "%Y%m%d_%H%M%S"
LAUNCHDECK = Path(sys.executable).with_name("launchdeck")
WHERE = ["local", "ssh"]


def host_for(ssh_target, known_hosts: Path | None = None, port: int | None = None) -> HostConfig:
    return HostConfig(name="x", address=ssh_target.host, port=port or ssh_target.port, user=ssh_target.username,
                      key=ssh_target.client_key, known_hosts=known_hosts or ssh_target.known_hosts, connect_timeout=5)


async def collect(spec: BackupConfig, host: HostConfig | None = None):
    """(outcome, t0, t1): one real collect, bracketed by the wall clock, with its own SSH pool."""
    connections = Connections()
    try:
        t0 = time.time()
        outcome = await BackupProbe(spec, host, connections).collect()
        t1 = time.time()
    finally:
        await connections.close()
    return outcome, t0, t1


async def read_dir(path: Path, where: str, ssh_target, **fields):
    """Collect a directory source here (host None) or on host "x" (the loopback sshd)."""
    host = host_for(ssh_target) if where == "ssh" else None
    spec = BackupConfig(name="dumps", path=str(path), host="x" if host else None, **fields)
    return await collect(spec, host)


def assert_age(outcome, taken_at: float, t0: float, t1: float) -> None:
    """age_seconds within 1 s of the truth: the moment we set, against the clock around collect."""
    age = outcome.values["age_seconds"]
    assert t0 - taken_at - 1 <= age <= t1 - taken_at + 1, (age, t0 - taken_at, t1 - taken_at)


def stamp_of(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime(STAMP)


def place(source: Path, directory: Path, prefix: str, suffix: str, age: float, name_age: float | None = None) -> Path:
    """Copy a real dump in as `prefix_<stamp><suffix>`, mtime `age` seconds ago (stamp: name_age ago)."""
    moment = time.time() - age
    stamped = time.time() - (age if name_age is None else name_age)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{prefix}_{stamp_of(stamped)}{suffix}"
    shutil.copyfile(source, target)
    os.utime(target, (moment, moment))
    return target


def same_reading(local, remote) -> None:
    """Local and SSH listings of one directory: identical but for where it was read and when."""
    keys = ("newest", "newest_at", "size_bytes", "count", "total_bytes", "type")
    assert (local.status, local.reason) == (remote.status, remote.reason)
    assert {k: local.values[k] for k in keys} == {k: remote.values[k] for k in keys}
    assert [b["name"] for b in local.values["backups"]] == [b["name"] for b in remote.values["backups"]]
    assert abs(local.values["age_seconds"] - remote.values["age_seconds"]) < 5
    assert remote.values["host"] == "x" and remote.values["location"].startswith("x:")


def sha256_of(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def dumps(services_info, pg_dsn, tmp_path_factory):
    """Real dumps of a small scratch table: {"plain": .sql.gz, "custom": .dump, "toc": pg_restore --list}."""
    bin_dir = Path(services_info["postgres"]["bin_dir"])
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS backup_scratch (id int PRIMARY KEY, note text NOT NULL)")
        conn.execute("INSERT INTO backup_scratch SELECT g, md5(g::text) FROM generate_series(1, 500) g "
                     "ON CONFLICT DO NOTHING")
    out = tmp_path_factory.mktemp("dumps")
    plain = subprocess.run([bin_dir / "pg_dump", "--dbname", pg_dsn], capture_output=True, check=True).stdout
    assert b"backup_scratch" in plain
    (out / "plain.sql.gz").write_bytes(subprocess.run(["gzip", "-c"], input=plain, capture_output=True,
                                                      check=True).stdout)
    subprocess.run([bin_dir / "pg_dump", "-Fc", "--dbname", pg_dsn, "-f", out / "custom.dump"], check=True)
    listed = subprocess.run([bin_dir / "pg_restore", "--list", out / "custom.dump"], capture_output=True,
                            text=True, check=True).stdout
    toc = sum(1 for line in listed.splitlines() if line.strip() and not line.startswith(";"))
    assert toc > 0 and gzip.decompress((out / "plain.sql.gz").read_bytes()) == plain
    return {"plain": out / "plain.sql.gz", "custom": out / "custom.dump", "toc": toc}


# ------------------------------------------------------------ dump directories: freshness


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("age, status, words", [
    (2 * HOUR, Status.OK, None),
    (22 * HOUR, Status.WARN, "past 80% of max_age 26h"),
    (30 * HOUR, Status.CRIT, "older than max_age 26h"),
    (-HOUR, Status.WARN, "stamped in the future"),
], ids=["fresh", "past-80pc", "stale", "future"])
async def test_real_dumps_are_judged_by_age(dumps, tmp_path, ssh_target, where, age, status, words):
    newest = place(dumps["plain"], tmp_path, "main_db", ".sql.gz", age)
    older = place(dumps["custom"], tmp_path, "main_db", ".dump", age + HOUR)
    (tmp_path / f"{newest.name}.sha256").write_text(sha256_of(newest) + "\n")  # a sidecar, never a backup
    outcome, t0, t1 = await read_dir(tmp_path, where, ssh_target, pattern="main_db_*", max_age="26h")
    assert outcome.status is status, outcome.reason
    assert (words in outcome.reason) if words else (outcome.reason == newest.name), outcome.reason
    values = outcome.values
    # a future-stamped file is listed first but is not "the newest": the real newest's age is what counts
    real = older if age < 0 else newest
    assert values["newest"] == real.name and values["count"] == 2
    assert values["size_bytes"] == real.stat().st_size
    assert values["total_bytes"] == newest.stat().st_size + older.stat().st_size
    assert [b["name"] for b in values["backups"]] == [newest.name, older.name]
    assert values["backups"][0]["time_from"] == "mtime" and values["type"] == "dump"
    assert values["max_age_seconds"] == 26 * HOUR and values["source"] == "directory"
    assert_age(outcome, real.stat().st_mtime, t0, t1)


@pytest.mark.parametrize("where", WHERE)
async def test_min_size_warns_below_and_not_at_the_size(dumps, tmp_path, ssh_target, where):
    newest = place(dumps["plain"], tmp_path, "main_db", ".sql.gz", 2 * HOUR)
    size = newest.stat().st_size
    below, _, _ = await read_dir(tmp_path, where, ssh_target, min_size=size + 1)
    assert below.status is Status.WARN and "below min_size" in below.reason, below.reason
    exact, _, _ = await read_dir(tmp_path, where, ssh_target, min_size=size)
    assert (exact.status, exact.reason) == (Status.OK, newest.name)


@pytest.mark.parametrize("where", WHERE)
async def test_name_time_takes_the_stamp_in_the_name_not_the_mtime(dumps, tmp_path, ssh_target, where):
    # stamped 30 h ago, copied (fresh mtime) a minute ago: the name says stale, the mtime fresh
    dump = place(dumps["plain"], tmp_path, "main_db", ".sql.gz", 60, name_age=30 * HOUR)
    stamp = datetime.strptime(dump.name.removeprefix("main_db_").removesuffix(".sql.gz"), STAMP)
    stamped_at = stamp.replace(tzinfo=timezone.utc).timestamp()
    by_name, t0, t1 = await read_dir(tmp_path, where, ssh_target, name_time=STAMP)
    assert by_name.status is Status.CRIT and "older than max_age" in by_name.reason, by_name.reason
    assert by_name.values["backups"][0]["time_from"] == "name"
    assert by_name.values["newest_at"] == datetime.fromtimestamp(stamped_at, timezone.utc).isoformat()
    assert_age(by_name, stamped_at, t0, t1)
    by_mtime, t0, t1 = await read_dir(tmp_path, where, ssh_target)
    assert (by_mtime.status, by_mtime.values["backups"][0]["time_from"]) == (Status.OK, "mtime")
    assert_age(by_mtime, dump.stat().st_mtime, t0, t1)


async def test_local_and_ssh_read_the_same_directory_the_same(dumps, tmp_path, ssh_target):
    for hours in (3, 9, 27):
        place(dumps["plain"], tmp_path, "main_db", ".sql.gz", hours * HOUR)
        place(dumps["custom"], tmp_path, "main_db", ".dump", hours * HOUR + 60)
    local, _, _ = await read_dir(tmp_path, "local", ssh_target, keep=4)
    remote, _, _ = await read_dir(tmp_path, "ssh", ssh_target, keep=4)
    assert local.status is Status.OK and local.values["count"] == 6 and len(local.values["backups"]) == 4
    same_reading(local, remote)


def stale_source(dumps, tmp_path: Path) -> Path:
    """A config whose one directory source holds a single dump 30 h old (crit)."""
    place(dumps["plain"], tmp_path / "d", "main_db", ".sql.gz", 30 * HOUR)
    config = tmp_path / "launchdeck.toml"
    config.write_text(f'[[backups]]\nname = "dumps"\npath = "{tmp_path / "d"}"\n')
    return config


def list_cli(config: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([LAUNCHDECK, "backups", "list", "--config", config, *extra], capture_output=True,
                          text=True, timeout=60)


def test_backups_list_cli_shows_the_reading_and_exits_with_its_status(dumps, tmp_path):
    config = stale_source(dumps, tmp_path)
    table = list_cli(config)
    assert table.returncode == 2 and "older than max_age 26h" in table.stdout, table.stderr
    [reading] = json.loads(list_cli(config, "--json").stdout)
    assert (reading["status"], reading["count"]) == ("crit", 1) and reading["newest"].startswith("main_db_")


def test_backups_list_json_exits_like_the_table(dumps, tmp_path):
    assert list_cli(stale_source(dumps, tmp_path), "--json").returncode == 2


# ------------------------------------------------------------ pgBackRest


def pgbackrest_spec(services_info, stanza: str, host: str | None = None, **fields) -> BackupConfig:
    command = ["pgbackrest", f"--config={services_info['pgbackrest']['config']}"]
    return BackupConfig(name="repo", kind="pgbackrest", stanza=stanza, command=command, host=host, **fields)


@pytest.mark.parametrize("where", WHERE)
async def test_pgbackrest_reports_the_fixtures_full_backup(services_info, pgbackrest_backup, ssh_target, where):
    host = host_for(ssh_target) if where == "ssh" else None
    spec = pgbackrest_spec(services_info, pgbackrest_backup.stanza, "x" if host else None)
    outcome, t0, t1 = await collect(spec, host)
    values = outcome.values
    assert (outcome.status, outcome.reason) == (Status.OK, pgbackrest_backup.label)
    assert values["newest"] == pgbackrest_backup.label and values["type"] == "full"
    stop = datetime.fromisoformat(values["newest_at"]).timestamp()
    assert pgbackrest_backup.started_at - 1 <= stop <= pgbackrest_backup.finished_at + 1
    assert_age(outcome, stop, t0, t1)
    stanza = values["stanzas"][0]
    assert stanza["name"] == pgbackrest_backup.stanza and stanza["status_code"] == 0
    assert stanza["latest"]["full"]["label"] == pgbackrest_backup.label
    assert stanza["archive_min"] and stanza["archive_max"] and stanza["archive_min"] <= stanza["archive_max"]


async def test_pgbackrest_unknown_stanza_is_crit(services_info, pgbackrest_backup):
    outcome, _, _ = await collect(pgbackrest_spec(services_info, "no_such_stanza_" + secrets.token_hex(3)))
    assert outcome.status is Status.CRIT
    assert "missing stanza path (code 1)" in outcome.reason and outcome.values["newest"] is None


@pytest.mark.parametrize("where", WHERE)
async def test_pgbackrest_not_installed_is_unknown(ssh_target, where):
    host = host_for(ssh_target) if where == "ssh" else None
    spec = BackupConfig(name="repo", kind="pgbackrest", stanza="launchdeck", command=["pgbackrest-not-installed"],
                        host="x" if host else None)
    outcome, _, _ = await collect(spec, host)
    assert outcome.status is Status.UNKNOWN and "not installed" in outcome.reason, outcome.reason
    assert "pgbackrest-not-installed" in outcome.reason


# ------------------------------------------------------------ WAL archiving

AGE_SQL = ("SELECT last_archived_wal, last_archived_time, extract(epoch FROM now() - last_archived_time)::float8 "
           "FROM pg_stat_archiver")


async def test_wal_archiving_reports_the_last_archived_segment(pg_dsn, archived_wal):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        wal_before, at_before, age_before = conn.execute(AGE_SQL).fetchone()
        outcome, _, _ = await collect(BackupConfig(name="wal", kind="wal", dsn=pg_dsn))
        wal_after, at_after, age_after = conn.execute(AGE_SQL).fetchone()
    assert (outcome.status, outcome.reason) == (Status.OK, archived_wal.last_archived_wal)
    assert wal_before == wal_after == archived_wal.last_archived_wal and at_before == at_after  # nothing moved
    values = outcome.values
    assert values["newest"] == archived_wal.last_archived_wal and values["type"] == "wal"
    assert values["newest_at"] == archived_wal.last_archived_time.astimezone(timezone.utc).isoformat()
    assert age_before - 1 <= values["age_seconds"] <= age_after + 1
    assert values["archive_mode"] != "off" and values["archived_count"] >= archived_wal.archived_count
    assert "launchdeck-test" not in values["location"]  # the session password, masked in the location


async def test_wal_archiving_read_through_an_ssh_host(pg_dsn, archived_wal, ssh_target, services_info):
    """The DSN as the host sees it (TCP on its localhost), reached through the loopback sshd: the
    same reading as a direct connection. A unix-socket DSN is refused in words."""
    spec = BackupConfig(name="wal", kind="wal", dsn=pg_dsn, host="x")
    outcome, _, _ = await collect(spec, host_for(ssh_target))
    assert (outcome.status, outcome.reason) == (Status.OK, archived_wal.last_archived_wal), outcome.reason
    assert outcome.values["location"].startswith("x:") and "launchdeck-test" not in outcome.values["location"]
    socket_dsn = make_conninfo(**{**conninfo_to_dict(pg_dsn), "host": "/var/run/postgresql"})
    outcome, _, _ = await collect(BackupConfig(name="wal", kind="wal", dsn=socket_dsn, host="x"), host_for(ssh_target))
    assert outcome.status is Status.UNKNOWN and "unix-socket dsn cannot be reached over SSH" in outcome.reason
    down = BackupConfig(name="wal", kind="wal", dsn=pg_dsn, host="x")
    outcome, _, _ = await collect(down, host_for(ssh_target, port=free_port()))
    assert outcome.status is Status.UNKNOWN and "connection refused" in outcome.reason, outcome.reason


async def test_wal_source_down_is_unknown_without_the_password(pg_dsn):
    password = "S3cret-" + secrets.token_hex(8)
    dsn = make_conninfo(**{**conninfo_to_dict(pg_dsn), "port": str(free_port()), "password": password})
    outcome, _, _ = await collect(BackupConfig(name="wal", kind="wal", dsn=dsn, timeout="5s"))
    assert outcome.status is Status.UNKNOWN and "connection refused" in outcome.reason, outcome.reason
    assert password not in outcome.reason + json.dumps(dict(outcome.values), default=str)


# ------------------------------------------------------------ bad input


@pytest.mark.parametrize("where", WHERE)
async def test_missing_empty_and_not_a_directory_are_crit(tmp_path, ssh_target, where):
    missing, _, _ = await read_dir(tmp_path / "nope", where, ssh_target)
    assert missing.status is Status.CRIT and f"{tmp_path / 'nope'} does not exist" in missing.reason
    (tmp_path / "other.txt").write_text("not a dump")
    empty, _, _ = await read_dir(tmp_path, where, ssh_target, pattern="main_db_*")
    assert empty.status is Status.CRIT and f"no files match 'main_db_*' in {tmp_path}" in empty.reason
    assert empty.values["count"] == 0 and empty.values["newest"] is None
    a_file, _, _ = await read_dir(tmp_path / "other.txt", where, ssh_target)
    assert a_file.status is Status.CRIT and f"{tmp_path / 'other.txt'} is not a directory" in a_file.reason


def as_nobody() -> list[str]:
    """argv prefix running the launchdeck CLI as `nobody`: the venv's entry point when nobody can run
    its interpreter, else the system python of the same version with the venv's packages."""
    probe = subprocess.run(["runuser", "-u", "nobody", "--", str(LAUNCHDECK), "--help"], capture_output=True)
    if probe.returncode == 0:
        return ["runuser", "-u", "nobody", "--", str(LAUNCHDECK)]
    system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    assert system.is_file(), f"nobody cannot run {LAUNCHDECK} ({probe.stderr!r}) and there is no {system}"
    path = os.pathsep.join([sysconfig.get_paths()["purelib"], str(Path(__file__).parents[2] / "src")])
    return ["runuser", "-u", "nobody", "--", "env", f"PYTHONPATH={path}", str(system), "-m", "launchdeck"]


def test_permission_denied_is_unknown_for_launchdeck_check_as_nobody(dumps):
    work = Path(tempfile.mkdtemp(prefix="launchdeck-perm-"))
    try:
        work.chmod(0o755)
        locked = work / "locked"
        locked.mkdir(mode=0o700)
        place(dumps["plain"], locked, "main_db", ".sql.gz", HOUR)
        config = work / "launchdeck.toml"
        config.write_text(f'[[backups]]\nname = "locked"\npath = "{locked}"\n')
        config.chmod(0o644)
        result = subprocess.run([*as_nobody(), "check", "--json", "--config", str(config)], capture_output=True,
                                text=True, timeout=60, cwd=work)
    finally:
        shutil.rmtree(work)
    assert result.returncode == 2, result.stderr
    readings = [r for r in json.loads(result.stdout)["readings"] if r["panel"] == "backups"]
    assert [(r["target"], r["status"]) for r in readings] == [("locked", "unknown")]
    assert "permission denied" in readings[0]["reason"], readings[0]["reason"]


@pytest.fixture(scope="module")
def ten_thousand(tmp_path_factory):
    """10,000 empty files, oldest first a minute apart; one in the middle is the newest (2 h old)."""
    directory = tmp_path_factory.mktemp("many")
    base = time.time() - 20 * 24 * HOUR
    for i in range(10_000):
        path = directory / f"main_db_{i:05d}.sql.gz"
        path.touch()
        os.utime(path, (base + 60 * i, base + 60 * i))
    newest = directory / "main_db_04321.sql.gz"
    os.utime(newest, (time.time() - 2 * HOUR, time.time() - 2 * HOUR))
    return directory, newest


async def test_ten_thousand_files_locally_and_over_ssh(ten_thousand, ssh_target):
    directory, newest = ten_thousand
    local, t0, t1 = await read_dir(directory, "local", ssh_target, pattern="main_db_*.sql.gz")
    assert local.status is Status.OK and local.values["count"] == 10_000
    assert local.values["newest"] == newest.name and local.values["backups"][1]["name"] == "main_db_09999.sql.gz"
    assert len(local.values["backups"]) == 20
    assert_age(local, newest.stat().st_mtime, t0, t1)
    remote, t0, t1 = await read_dir(directory, "ssh", ssh_target, pattern="main_db_*.sql.gz")
    assert_age(remote, newest.stat().st_mtime, t0, t1)
    same_reading(local, remote)


async def test_ssh_down_is_unknown_naming_the_host(tmp_path, ssh_target):
    host, connections = host_for(ssh_target, port=free_port()), Connections()
    try:
        reading = await collect_once(BackupProbe(BackupConfig(name="dumps", path=str(tmp_path), host="x"), host,
                                                 connections))
    finally:
        await connections.close()
    assert reading.status is Status.UNKNOWN
    assert reading.reason == f"x ({ssh_target.host}:{host.port}): connection refused"


async def test_unknown_host_key_is_unknown_naming_the_key_problem(tmp_path, ssh_target):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    connections = Connections()
    try:
        reading = await collect_once(BackupProbe(BackupConfig(name="dumps", path=str(tmp_path), host="x"),
                                                 host_for(ssh_target, known_hosts=empty), connections))
    finally:
        await connections.close()
    assert reading.status is Status.UNKNOWN and reading.reason.startswith("x (")
    assert "host key not verified: UNKNOWN host" in reading.reason and "SHA256:" in reading.reason


# ------------------------------------------------------------ verification


def verify_cli(tmp_path: Path, directory: Path, *extra: str) -> tuple[int, dict]:
    """`launchdeck backups verify --json` on one directory source, with a ledger in tmp_path."""
    config = tmp_path / "launchdeck.toml"
    config.write_text(f'[[backups]]\nname = "dumps"\npath = "{directory}"\npattern = "main_db_*"\n\n'
                      f'[checklists]\nledger = "{tmp_path / "ledger.jsonl"}"\n')
    result = subprocess.run([LAUNCHDECK, "backups", "verify", "--config", config, "--json", *extra],
                            capture_output=True, text=True, timeout=120)
    docs = json.loads(result.stdout or "null")
    assert isinstance(docs, list) and len(docs) == 1, result.stderr
    return result.returncode, docs[0]


def checks_of(doc: dict) -> dict:
    return {c["name"]: (c["passed"], c["detail"]) for c in doc["checks"]}


def truncated(source: Path, directory: Path, suffix: str, keep: int) -> Path:
    target = place(source, directory, "main_db", suffix, HOUR)
    with target.open("r+b") as handle:
        handle.truncate(keep)
    return target


def test_verify_a_good_gzip_with_its_sha256_and_record_it(dumps, tmp_path):
    dump = place(dumps["plain"], tmp_path / "d", "main_db", ".sql.gz", HOUR)
    Path(f"{dump}.sha256").write_text(f"{sha256_of(dump)}  {dump.name}\n")
    code, doc = verify_cli(tmp_path, dump.parent)
    assert code == 0 and doc["result"] == "passed" and doc["backup"] == dump.name, doc
    assert checks_of(doc) == {"gzip": (True, "stream and CRC intact"), "sha256": (True, "matches .sha256"),
                              "pg_restore": (None, "not a custom or tar archive")}
    assert doc["summary"] == "gzip ok · sha256 ok" and doc["ledger"].startswith("recorded in ")
    [entry] = Ledger(tmp_path / "ledger.jsonl").records()
    assert (entry.kind, entry.checklist, entry.item_id, entry.item_text) == ("verify", "backups", "dumps", dump.name)
    assert entry.evidence["result"] == "passed" and entry.evidence["location"] == str(dump)
    signed = subprocess.run([LAUNCHDECK, "signoff", "verify", tmp_path / "ledger.jsonl"], capture_output=True,
                            text=True)
    assert signed.returncode == 0 and "1 records, chain intact" in signed.stdout, signed.stderr


def test_verify_a_truncated_gzip_fails_with_gzips_words(dumps, tmp_path):
    dump = truncated(dumps["plain"], tmp_path / "d", ".sql.gz", dumps["plain"].stat().st_size // 2)
    code, doc = verify_cli(tmp_path, dump.parent)
    assert code == 2 and doc["result"] == "failed", doc
    passed, detail = checks_of(doc)["gzip"]
    assert passed is False and "unexpected end of file" in detail, detail
    [entry] = Ledger(tmp_path / "ledger.jsonl").records()
    assert entry.evidence["result"] == "failed" and entry.reason.startswith("gzip: ")


def test_verify_a_custom_dump_lists_its_toc(dumps, tmp_path):
    dump = place(dumps["custom"], tmp_path / "d", "main_db", ".dump", HOUR)
    code, doc = verify_cli(tmp_path, dump.parent, "--file", dump.name)
    assert code == 0 and doc["result"] == "passed", doc
    assert checks_of(doc)["pg_restore"] == (True, f"{dumps['toc']} TOC entries, data readable")
    assert checks_of(doc)["gzip"][0] is None and checks_of(doc)["sha256"][0] is None


def test_verify_a_truncated_custom_dump_fails_with_pg_restores_words(dumps, tmp_path):
    dump = truncated(dumps["custom"], tmp_path / "d", ".dump", 64)
    code, doc = verify_cli(tmp_path, dump.parent)
    passed, detail = checks_of(doc)["pg_restore"]
    assert code == 2 and passed is False, doc
    assert detail and "TOC entries" not in detail and not detail.startswith("exit "), detail


def test_verify_a_custom_dump_cut_off_in_its_data_fails(dumps, tmp_path):
    dump = truncated(dumps["custom"], tmp_path / "d", ".dump", dumps["custom"].stat().st_size // 2)
    assert subprocess.run(["pg_restore", "-f", os.devnull, dump], capture_output=True).returncode != 0  # unrestorable
    code, doc = verify_cli(tmp_path, dump.parent)
    assert code == 2 and checks_of(doc)["pg_restore"][0] is False, doc


def test_verify_a_wrong_sha256_fails(dumps, tmp_path):
    dump = place(dumps["plain"], tmp_path / "d", "main_db", ".sql.gz", HOUR)
    Path(f"{dump}.sha256").write_text(f"{'0' * 64}  {dump.name}\n")
    code, doc = verify_cli(tmp_path, dump.parent)
    passed, detail = checks_of(doc)["sha256"]
    assert code == 2 and passed is False and "does not match" in detail, doc
    assert checks_of(doc)["gzip"][0] is True


async def test_verify_over_ssh_matches_local(dumps, tmp_path, ssh_target):
    good = place(dumps["plain"], tmp_path, "main_db", ".sql.gz", HOUR)
    Path(f"{good}.sha256").write_text(sha256_of(good) + "\n")
    bad = truncated(dumps["custom"], tmp_path, ".dump", 64)
    spec = BackupConfig(name="dumps", path=str(tmp_path), host="x", verify_timeout="60s")
    async with Connections() as connections:
        remote = {p.name: await verify_backup(spec, p.name, host_for(ssh_target), connections) for p in (good, bad)}
    local = {p.name: await verify_backup(spec.model_copy(update={"host": None}), p.name) for p in (good, bad)}
    assert remote[good.name].passed and remote[good.name].summary() == "gzip ok · sha256 ok"
    assert remote[good.name].location == f"x:{good}"
    assert not remote[bad.name].passed
    for name in (good.name, bad.name):
        assert remote[name].checks == local[name].checks


def test_a_directory_behind_an_untraversable_parent_is_unknown_not_missing():
    """`test -e` is false for "missing" and for "cannot reach" alike: as `nobody`, a dump directory
    under a 0700 parent must read as permission denied (unknown), not as missing (crit)."""
    from launchdeck.probes.backups.listing import list_argv, parse_listing
    from launchdeck.run.ssh import CompletedRun

    with tempfile.TemporaryDirectory() as top:
        os.chmod(top, 0o755)
        parent = Path(top) / "private"
        (parent / "dumps").mkdir(parents=True)
        parent.chmod(0o700)
        outcomes = {}
        for path in (parent / "dumps", Path(top) / "absent"):
            run = subprocess.run(["runuser", "-u", "nobody", "--", *list_argv(str(path), "*")], capture_output=True,
                                 text=True, timeout=10)
            outcomes[path.name] = parse_listing(CompletedRun(run.returncode, run.stdout, run.stderr), str(path), "*")
    assert outcomes["dumps"].problem == (Status.UNKNOWN, f"permission denied reading {parent / 'dumps'}")
    assert outcomes["absent"].problem[0] is Status.CRIT and "does not exist" in outcomes["absent"].problem[1]
