"""Fixtures for integration tests that talk to real servers.

The servers are installed and started by ``bash scripts/services.sh up``,
which records how to reach them in ``.services/services.json``.  If that file
is missing or a server does not answer, the fixture *fails* the test (never
skips): a green run must mean the servers were really exercised.

Fixtures (scope):
    services_info (session)      -> dict loaded from .services/services.json
    docker_client (session)      -> docker.DockerClient for the local engine
    busybox_image (session)      -> str, e.g. "launchdeck-test/busybox:1"
    container_label (session)    -> {"launchdeck.test": "<uuid hex>"}; every
                                    container carrying it is force-removed at
                                    session end
    pg_dsn (session)             -> libpq DSN of a scratch database
                                    launchdeck_test_<hex>, dropped at the end
    pgbackrest_backup (session)  -> PgBackRestBackup(config, stanza, label,
                                    started_at, finished_at) of ONE real full
                                    backup of the local cluster, taken now
    archived_wal (function)      -> ArchivedWal: pg_stat_archiver after a WAL
                                    switch was archived (and the counts before)
    ssh_target (session)         -> SSHTarget(host, port, username,
                                    client_key, known_hosts)
    prometheus_factory (function)-> start(scrape_targets, scrape_interval="1s",
                                    job_name="app", metrics_path="/metrics")
                                    -> base URL "http://127.0.0.1:<port>"
    free_port (function)         -> the free_port() helper below

Helpers importable from this module: ``free_port()``, ``SSHTarget``,
``PgBackRestBackup``, ``ArchivedWal``, ``pgbackrest_cmd()``, ``SERVICES_JSON``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES_DIR = Path(os.environ.get("LAUNCHDECK_SERVICES_DIR", REPO_ROOT / ".services"))
SERVICES_JSON = SERVICES_DIR / "services.json"
UP_HINT = "Run `bash scripts/services.sh up` (as root) to install and start it."


def _server_down(server: str, why: str) -> None:
    # Called outside `except` blocks so the report is not buried under a
    # chained traceback.
    why = " ".join(why.split())
    if not why.endswith((".", "?", "!")):
        why += "."
    pytest.fail(f"{server} is not available: {why}\n{UP_HINT}", pytrace=False)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@pytest.fixture(name="free_port")
def _free_port_fixture() -> Callable[..., int]:
    return free_port


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"


# ---------------------------------------------------------------------------
# services.json
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def services_info() -> dict[str, Any]:
    info: dict[str, Any] = {}
    error = ""
    try:
        info = json.loads(SERVICES_JSON.read_text())
    except FileNotFoundError:
        error = f"{SERVICES_JSON} does not exist"
    except (OSError, ValueError) as exc:
        error = f"cannot read {SERVICES_JSON}: {exc}"
    if error:
        _server_down("services.json", error)
    for section in ("docker", "postgres", "ssh", "prometheus"):
        if section not in info:
            _server_down(section, f"{SERVICES_JSON} has no {section!r} section (stale file?)")
    return info


# ---------------------------------------------------------------------------
# Docker Engine
# ---------------------------------------------------------------------------


def _connect_docker(host: str) -> tuple[Any, str]:
    """(client, "") or (None, why)."""
    import docker

    try:  # the constructor already talks to the engine (API version negotiation)
        client = docker.DockerClient(base_url=host, timeout=60)
    except Exception as exc:  # DockerException, requests' ConnectionError, ...
        return None, f"no answer on {host} ({exc})"
    try:
        client.ping()
    except Exception as exc:
        client.close()
        return None, f"ping on {host} failed ({exc})"
    return client, ""


@pytest.fixture(scope="session")
def docker_client(services_info: dict[str, Any]) -> Iterator[Any]:
    host = services_info["docker"]["host"]
    client, error = _connect_docker(host)
    if error:
        _server_down("Docker Engine", error)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def busybox_image(services_info: dict[str, Any], docker_client: Any) -> str:
    import docker

    image = services_info["docker"]["image"]
    try:
        docker_client.images.get(image)
        missing = False
    except docker.errors.ImageNotFound:
        missing = True
    if missing:
        _server_down("Docker Engine", f"image {image} is missing")
    return image


@pytest.fixture(scope="session")
def container_label(docker_client: Any) -> Iterator[dict[str, str]]:
    """A label unique to this test session; its containers are removed at the end."""
    key, value = "launchdeck.test", uuid.uuid4().hex
    yield {key: value}
    for container in docker_client.containers.list(all=True, filters={"label": f"{key}={value}"}):
        try:
            container.remove(force=True, v=True)
        except Exception:  # already gone (auto-remove) or being removed
            pass


# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_dsn(services_info: dict[str, Any]) -> Iterator[str]:
    """DSN (as role launchdeck over TCP) of a fresh database for this session."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    pg = services_info["postgres"]
    base = {
        "host": pg["host"],
        "port": pg["port"],
        "user": pg["user"],
        "password": pg["password"],
        "connect_timeout": 5,
    }
    admin_dsn = make_conninfo(**base, dbname=pg.get("dbname", "postgres"))
    dbname = f"launchdeck_test_{secrets.token_hex(6)}"
    error = ""
    try:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    except psycopg.Error as exc:
        error = f"cannot create a database as {pg['user']}@{pg['host']}:{pg['port']}: {exc}"
    if error:
        _server_down("PostgreSQL", error)
    try:
        yield make_conninfo(**base, dbname=dbname)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            # FORCE: a test that leaked a connection must not leak the database.
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


# ---------------------------------------------------------------------------
# pgBackRest (stanza + WAL archiving set up by services.sh up)
# ---------------------------------------------------------------------------

# A full backup of the (small) test cluster takes a few seconds; this bounds
# a hung one (e.g. waiting on a lock held by another test session).
PGBACKREST_BACKUP_TIMEOUT = 300.0
ARCHIVE_WAIT_TIMEOUT = 10.0


@dataclass(frozen=True)
class PgBackRestBackup:
    config: Path
    stanza: str
    label: str  # e.g. "20261123-144502F"
    started_at: float  # time.time() just before `pgbackrest backup`
    finished_at: float  # time.time() just after it returned


@dataclass(frozen=True)
class ArchivedWal:
    """pg_stat_archiver after the archiver advanced (plus the counts before)."""

    last_archived_wal: str
    last_archived_time: Any  # datetime (timestamptz)
    archived_count: int
    failed_count: int
    archived_count_before: int
    failed_count_before: int


def pgbackrest_cmd(config: Path | str, stanza: str, *args: str) -> list[str]:
    """argv running pgbackrest as the postgres OS user (it owns the repo)."""
    return ["runuser", "-u", "postgres", "--", "pgbackrest", f"--config={config}", f"--stanza={stanza}", *args]


def _pg_server_log(services_info: dict[str, Any]) -> Path:
    pg = services_info["postgres"]
    return Path(f"/var/log/postgresql/postgresql-{pg['version']}-{pg['cluster']}.log")


def _pgbackrest_run(argv: list[str], what: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run argv; pytest.fail with its stderr on any failure."""
    error = ""
    try:
        proc = subprocess.run(
            argv, cwd="/", stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
        )
    except FileNotFoundError as exc:
        error = f"cannot run {argv[0]}: {exc}"
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""
        error = f"timed out after {timeout:.0f}s\n--- stderr ---\n{stderr.strip()}"
    if error:
        pytest.fail(f"pgBackRest {what} failed: {' '.join(argv)}: {error}", pytrace=False)
    if proc.returncode != 0:
        pytest.fail(
            f"pgBackRest {what} failed (exit {proc.returncode}): {' '.join(argv)}\n"
            f"--- stderr ---\n{proc.stderr.strip()}\n--- stdout ---\n{proc.stdout.strip()[-2000:]}\n{UP_HINT}",
            pytrace=False,
        )
    return proc


def _pgbackrest_backup_labels(config: Path, stanza: str) -> dict[str, dict[str, Any]]:
    """{label: backup object} from `pgbackrest info --output=json` for stanza."""
    proc = _pgbackrest_run(pgbackrest_cmd(config, stanza, "info", "--output=json"), "info", 60)
    error, stanzas = "", []
    try:
        stanzas = json.loads(proc.stdout)
    except ValueError as exc:
        error = f"info --output=json is not JSON ({exc}): {proc.stdout[:500]!r}"
    entry = next((s for s in stanzas if isinstance(s, dict) and s.get("name") == stanza), None)
    if not error and entry is None:
        error = f"info --output=json has no stanza {stanza!r}: {proc.stdout[:500]!r}"
    if error:
        pytest.fail(f"pgBackRest {error}\n{UP_HINT}", pytrace=False)
    return {b["label"]: b for b in entry.get("backup", [])}


@pytest.fixture(scope="session")
def pgbackrest_backup(services_info: dict[str, Any]) -> PgBackRestBackup:
    """One real full backup of the local cluster, taken for this session."""
    section = services_info.get("pgbackrest") or {}
    missing = [key for key in ("binary", "config", "stanza", "repo") if not section.get(key)]
    if missing:
        _server_down("pgBackRest", f"{SERVICES_JSON} has no pgbackrest {', '.join(missing)} (stale file?)")
    config, stanza = Path(section["config"]), section["stanza"]
    if not os.access(section["binary"], os.X_OK):
        _server_down("pgBackRest", f"binary {section['binary']!r} is not executable")
    if not config.is_file():
        _server_down("pgBackRest", f"config {config} is missing")

    before = _pgbackrest_backup_labels(config, stanza)
    started_at = time.time()
    _pgbackrest_run(pgbackrest_cmd(config, stanza, "--type=full", "backup"), "full backup", PGBACKREST_BACKUP_TIMEOUT)
    finished_at = time.time()
    after = _pgbackrest_backup_labels(config, stanza)

    new = [label for label, b in after.items() if label not in before and b.get("type") == "full"]
    if len(new) != 1:
        pytest.fail(
            f"pgBackRest full backup succeeded but info shows {len(new)} new full backups ({new}); "
            f"labels before {sorted(before)}, after {sorted(after)}",
            pytrace=False,
        )
    return PgBackRestBackup(config=config, stanza=stanza, label=new[0], started_at=started_at, finished_at=finished_at)


_ARCHIVER_SQL = (
    "select last_archived_wal, last_archived_time, archived_count, failed_count,"
    " last_failed_wal, last_failed_time from pg_stat_archiver"
)


@pytest.fixture
def archived_wal(services_info: dict[str, Any], pg_dsn: str) -> ArchivedWal:
    """Write some WAL, switch segments, wait until the archiver pushed it."""
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        # autocommit: each statement is its own transaction, so every poll
        # sees fresh statistics (stats_fetch_consistency caches per xact).
        first = conn.execute(_ARCHIVER_SQL).fetchone()
        assert first is not None
        conn.execute(
            "create table if not exists launchdeck_wal_probe"
            " (id bigserial primary key, at timestamptz not null default now(), pad text)"
        )
        conn.execute("insert into launchdeck_wal_probe (pad) select repeat('x', 100) from generate_series(1, 100)")
        conn.execute("select pg_switch_wal()")
        deadline = time.monotonic() + ARCHIVE_WAIT_TIMEOUT
        row = first
        while True:
            row = conn.execute(_ARCHIVER_SQL).fetchone()
            assert row is not None
            if row[2] > first[2] or time.monotonic() >= deadline:
                break
            time.sleep(0.1)

    last_wal, last_time, archived, failed, failed_wal, failed_time = row
    if archived <= first[2]:
        pytest.fail(
            f"pg_stat_archiver.archived_count stayed at {archived} for {ARCHIVE_WAIT_TIMEOUT:.0f}s after "
            f"pg_switch_wal(); failed_count {first[3]} -> {failed}, last_failed_wal {failed_wal!r} "
            f"at {failed_time}\n--- tail of {_pg_server_log(services_info)} (archive-push errors land here) ---\n"
            f"{_tail(_pg_server_log(services_info), 20)}\n{UP_HINT}",
            pytrace=False,
        )
    return ArchivedWal(
        last_archived_wal=last_wal,
        last_archived_time=last_time,
        archived_count=archived,
        failed_count=failed,
        archived_count_before=first[2],
        failed_count_before=first[3],
    )


# ---------------------------------------------------------------------------
# sshd
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SSHTarget:
    host: str
    port: int
    username: str
    client_key: Path
    known_hosts: Path


@pytest.fixture(scope="session")
def ssh_target(services_info: dict[str, Any]) -> SSHTarget:
    ssh = services_info["ssh"]
    target = SSHTarget(
        host=ssh["host"],
        port=int(ssh["port"]),
        username=ssh["username"],
        client_key=Path(ssh["client_key"]),
        known_hosts=Path(ssh["known_hosts"]),
    )
    for path in (target.client_key, target.known_hosts):
        if not path.is_file():
            _server_down("sshd", f"{path} is missing")
    # Cheap liveness check: an SSH server greets with its version string.
    banner, error = b"", ""
    try:
        with socket.create_connection((target.host, target.port), timeout=5) as sock:
            banner = sock.recv(256)
    except OSError as exc:
        error = f"no answer on {target.host}:{target.port}: {exc}"
    if error:
        _server_down("sshd", error)
    if not banner.startswith(b"SSH-2.0-"):
        _server_down("sshd", f"{target.host}:{target.port} answered {banner[:40]!r}, not an SSH banner")
    return target


# ---------------------------------------------------------------------------
# Prometheus (one real server per call, per test)
# ---------------------------------------------------------------------------

PROMETHEUS_READY_TIMEOUT = 20.0
# Note for test authors: /-/ready answers ~0.1 s after start, but the FIRST
# scrape only happens ~5 s later (Prometheus throttles target-discovery
# updates to the scrape manager to one per 5 s; not configurable in 2.42).
# Poll for ~20 s rather than sleeping a fixed time.


@pytest.fixture
def prometheus_factory(
    services_info: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., str]]:
    import httpx

    binary = services_info["prometheus"]["binary"]
    if not binary or not os.access(binary, os.X_OK):
        _server_down("Prometheus", f"binary {binary!r} is not executable")
    procs: list[subprocess.Popen[bytes]] = []

    def start(
        scrape_targets: list[str],
        scrape_interval: str = "1s",
        job_name: str = "app",
        metrics_path: str = "/metrics",
    ) -> str:
        workdir = tmp_path_factory.mktemp("prometheus")
        config = workdir / "prometheus.yml"
        # scrape_timeout must not exceed scrape_interval (default 10s would).
        config.write_text(
            "global:\n"
            f"  scrape_interval: {scrape_interval}\n"
            f"  scrape_timeout: {scrape_interval}\n"
            f"  evaluation_interval: {scrape_interval}\n"
            "scrape_configs:\n"
            f"  - job_name: {json.dumps(job_name)}\n"
            f"    metrics_path: {json.dumps(metrics_path)}\n"
            "    static_configs:\n"
            f"      - targets: {json.dumps(list(scrape_targets))}\n"
        )
        log_path = workdir / "prometheus.log"
        last_error = ""
        for _attempt in range(3):  # the free port may be grabbed before prometheus binds it
            port = free_port()
            with log_path.open("ab") as log:
                proc = subprocess.Popen(
                    [
                        binary,
                        f"--config.file={config}",
                        f"--storage.tsdb.path={workdir / 'data'}",
                        f"--web.listen-address=127.0.0.1:{port}",
                        "--log.level=info",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=workdir,
                    start_new_session=True,
                )
            procs.append(proc)
            base_url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + PROMETHEUS_READY_TIMEOUT
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    last_error = f"exited with status {proc.returncode}"
                    break
                try:
                    if httpx.get(f"{base_url}/-/ready", timeout=1.0).status_code == 200:
                        return base_url
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            else:
                last_error = f"/-/ready did not answer 200 within {PROMETHEUS_READY_TIMEOUT:.0f}s"
            if "address already in use" not in _tail(log_path, 5):
                break
        pytest.fail(
            f"Prometheus ({binary}) {last_error}; config {config}\n"
            f"--- tail of {log_path} ---\n{_tail(log_path)}",
            pytrace=False,
        )

    yield start

    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@pytest.fixture
def tmux():
    """A tmux server of the test's own (its own socket): killed with everything in it at the end."""
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed: run scripts/services.sh up")
    socket_name = f"launchdeck-test-{uuid.uuid4().hex[:8]}"
    yield ["tmux", "-L", socket_name]
    subprocess.run(["tmux", "-L", socket_name, "kill-server"], capture_output=True, check=False)
