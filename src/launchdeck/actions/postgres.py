"""The built-in PostgreSQL restore: safety dump, verify it, end other sessions, restore, check.

So the common case needs no script: `pg_dump -Fc` of the database as it is now (beside the backups,
or in `safety_dir`), `pg_restore --list` of that dump (a safety copy that cannot be read is no
safety), `pg_terminate_backend` for every other session on the database, then `pg_restore --clean
--if-exists --exit-on-error` for a custom-format dump or `psql -v ON_ERROR_STOP=1` for `.sql` (and
for `.sql.gz`, decompressed here and fed to psql's stdin: no shell pipe), then `SELECT 1`.
The password never appears in an argv, a log or the ledger: the tools get a DSN without it and the
password in PGPASSWORD (an env value that is never recorded).
"""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from launchdeck.actions.local import StepResult
from launchdeck.actions.params import ParamError, check_values
from launchdeck.actions.plan import Plan, PlannedStep, Refused
from launchdeck.core.config import BackupConfig, Config
from launchdeck.core.config_actions import ActionConfig
from launchdeck.core.plain import visible
from launchdeck.core.pool import run_blocking
from launchdeck.core.redact import mask_passwords
from launchdeck.run.ssh import CompletedRun

CHECK_TIMEOUT = 30.0  # s for the terminate and SELECT 1 steps
TERMINATE = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE datname = current_database() AND pid <> pg_backend_pid()")


def split_dsn(dsn: str) -> tuple[str, str | None, str]:
    """(DSN without its password, the password, the database name)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        parts = {k: v for k, v in conninfo_to_dict(dsn).items() if v is not None}
    except Exception as error:  # noqa: BLE001 - psycopg's parse errors vary; all are the DSN's fault
        raise Refused(f"actions.restore.dsn: cannot parse it ({mask_passwords(str(error))})") from None
    password = parts.pop("password", None)
    database = str(parts.get("dbname") or parts.get("user") or "")
    if not database:
        raise Refused("actions.restore.dsn: names no database (dbname)")
    return make_conninfo(**parts), (str(password) if password is not None else None), database


def list_backups(source: BackupConfig) -> list:
    """The source's dump files, newest first, through the probe's own listing script."""
    from launchdeck.probes.backups.listing import list_argv, parse_listing

    path = str(source.path)
    try:
        done = subprocess.run(list_argv(path, source.pattern), capture_output=True, timeout=source.timeout, check=False,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise Refused(f"cannot list backups in {visible(path)}: {error}") from None
    run = CompletedRun(done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"))
    listing = parse_listing(run, path, source.pattern, source.name_time, source.name_timezone)
    if listing.problem is not None:
        raise Refused(f"backups {source.name!r}: {visible(listing.problem[1])}")
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(listing.backups, key=lambda b: b.taken_at or epoch, reverse=True)


def choose_backup(config: Config, source: BackupConfig, wanted: str | None) -> Path:
    """`--backup FILE` (a name in the source's listing, or a path to one), else the newest listed."""
    folder = config.resolve(Path(str(source.path)))
    listed = list_backups(source.model_copy(update={"path": str(folder)}))
    if wanted is None and not listed:
        raise Refused(f"backups {source.name!r} lists no backup to restore "
                         f"({visible(str(folder))}, {visible(source.pattern)})")
    if wanted is None:
        return folder / listed[0].name
    name = Path(wanted).name
    if Path(wanted).parent not in (Path("."), folder) or name not in {b.name for b in listed}:
        raise ParamError(f"--backup {visible(wanted)}: not in the listing of backups {source.name!r} "
                         f"({visible(str(folder))}, {visible(source.pattern)})")
    return folder / name


def dump_format(path: Path) -> str:
    """"custom" (pg_dump -Fc), "gzip" (a gzipped SQL script) or "sql", from the first bytes."""
    with open(path, "rb") as file:
        head = file.read(5)
    if head == b"PGDMP":
        return "custom"
    return "gzip" if head[:2] == b"\x1f\x8b" else "sql"


async def _sql(dsn: str, statement: str, what: str) -> StepResult:
    """One statement through psycopg on launchdeck's pool; the error worded without the password."""
    import psycopg

    started = time.monotonic()

    def run() -> object:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute(statement).fetchone()
            return row[0] if row else None

    try:
        value = await run_blocking(run, timeout=CHECK_TIMEOUT)
    except TimeoutError:
        return StepResult("timeout", None, time.monotonic() - started, f"{what}: no answer in {CHECK_TIMEOUT:g}s")
    except psycopg.Error as error:
        words = mask_passwords(str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__)
        return StepResult("failed", 1, time.monotonic() - started, f"{what}: {words}")
    return StepResult("ok", 0, time.monotonic() - started, f"{what}: {value}")


def plan_restore(config: Config, spec: ActionConfig, given: dict[str, str], backup: str | None,
                 patterns: dict[str, str]) -> Plan:
    source = next(b for b in config.backups if b.name == spec.backups)
    if given:
        raise ParamError(f"the built-in restore takes no --param (got {visible(min(given))}); "
                         "choose the dump with --backup")
    safe_dsn, password, database = split_dsn(str(spec.dsn))
    chosen = choose_backup(config, source, backup)
    values = check_values({"backup": chosen.name, "database": database}, patterns, {"backup", "database"})
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = config.resolve(spec.safety_dir) if spec.safety_dir else chosen.parent
    safety = folder / f"{database}_safety_{stamp}.dump"
    env = {"PGPASSWORD": password} if password is not None else {}
    secret = frozenset(env)
    fmt = dump_format(chosen)
    shown_dsn = f"--dbname={safe_dsn}"
    full_dsn = str(spec.dsn)
    timeout = spec.timeout
    if fmt == "custom":
        restore = ["pg_restore", "--clean", "--if-exists", "--exit-on-error", shown_dsn, str(chosen)]
        shown = None
    else:
        restore = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", shown_dsn]
        restore += [] if fmt == "gzip" else ["-f", str(chosen)]
        shown = restore + ([f"< {chosen} (gunzipped by launchdeck)"] if fmt == "gzip" else [])
    steps = [
        PlannedStep("safety dump", ["pg_dump", "-Fc", "-f", str(safety), shown_dsn], None, timeout, env,
                    secret_env=secret),
        PlannedStep("verify safety dump", ["pg_restore", "--list", str(safety)], None, timeout),
        PlannedStep("end other sessions", ["SQL", TERMINATE], None, CHECK_TIMEOUT,
                    call=lambda: _sql(full_dsn, TERMINATE, "sessions ended")),
        PlannedStep("restore", restore, None, timeout, env, shown=shown, secret_env=secret,
                    stdin=chosen if fmt == "gzip" else None, gunzip=fmt == "gzip"),
        PlannedStep("check connectivity", ["SQL", "SELECT 1"], None, CHECK_TIMEOUT,
                    call=lambda: _sql(full_dsn, "SELECT 1", "connected, SELECT 1 returned")),
    ]
    word = spec.confirm_word or database if spec.confirm == "typed" else "yes"
    return Plan("restore", spec, values, steps, spec.confirm, word, 0.0, backup=chosen,
                notes=[f"safety dump: {safety}", f"restoring {chosen.name} ({fmt}) into {database}"])
