"""Verify a dump file where it lies (here or on its host), with the tools that will restore it.

- gzip integrity: `gzip -t` reads the whole stream and checks its CRC (a truncated upload fails);
- custom/tar-format dumps (`PGDMP` magic, or a .dump/.backup/.tar name): `pg_restore --list`
  reads the table of contents, then `pg_restore --file=/dev/null` reads every entry's data (a dump
  cut off in its data section still lists);
- a `NAME.sha256` beside the file: its first word must equal `sha256sum NAME`.
A check that does not apply is skipped, and says so; a verification with no applicable check
fails ("nothing could be checked") rather than passing silently. Every command gets the file as
one argv word (no shell of ours), and the whole verification shares one deadline.
"""

from __future__ import annotations

import posixpath
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from launchdeck.audit.ledger import Ledger, LedgerError, Record
from launchdeck.run.argv import NOT_FOUND, last_words, run_argv
from launchdeck.core.config import BackupConfig, Config, HostConfig
from launchdeck.run.ssh import CompletedRun
from launchdeck.probes.backups.freshness import newest
from launchdeck.probes.backups.listing import list_argv, parse_listing

if TYPE_CHECKING:
    from launchdeck.run.ssh import Connections

Runner = Callable[[list[str], float], Awaitable[CompletedRun]]
LEDGER_CHECKLIST = "backups"  # ledger records of verifications: item_id = source, item_text = file
ARCHIVE_SUFFIXES = (".dump", ".backup", ".pgdump", ".tar", ".custom")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class Check:
    name: str  # gzip | pg_restore | sha256
    passed: bool | None  # None: did not apply, skipped
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True)
class Verification:
    source: str
    backup: str  # the file name
    location: str  # host:path of the file
    checks: tuple[Check, ...]
    at: datetime
    seconds: float = 0.0
    size_bytes: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        ran = [c for c in self.checks if c.passed is not None]
        return bool(ran) and all(c.passed for c in ran)

    def summary(self) -> str:
        """`gzip ok · sha256 ok`, or the failures first with their reasons."""
        failed = [f"{c.name}: {c.detail}" for c in self.checks if c.passed is False]
        if failed:
            return "; ".join(failed)
        ran = [f"{c.name} ok" for c in self.checks if c.passed]
        return " · ".join(ran) if ran else "nothing could be checked (no .gz, dump archive or .sha256)"

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "backup": self.backup, "location": self.location,
                "result": "passed" if self.passed else "failed", "summary": self.summary(),
                "checks": [c.to_json() for c in self.checks], "at": self.at.isoformat(),
                "seconds": round(self.seconds, 3), "size_bytes": self.size_bytes} | self.extra


async def verify_file(path: str, run: Runner, timeout: float) -> tuple[Check, ...]:
    """Every check that applies to the file at `path`, within `timeout` seconds in all."""
    deadline = time.monotonic() + timeout
    left = lambda: max(0.1, deadline - time.monotonic())  # noqa: E731
    checks = []
    try:
        exists = await run(["test", "-r", path], left())
        if exists.exit_status != 0:
            # not a verdict on a dump: there is nothing to judge (retention deleted it, or no access)
            raise FileNotFoundError(f"{path}: missing or not readable")
        checks.append(await _gzip(path, run, left()) if path.endswith(".gz") else Check("gzip", None, "not gzip"))
        checks.append(await _pg_restore(path, run, left))
        checks.append(await _sha256(path, run, left))
    except TimeoutError:
        checks.append(Check("time", False, f"verification took longer than {timeout:g}s (stopped)"))
    return tuple(checks)


async def _gzip(path: str, run: Runner, timeout: float) -> Check:
    result = await run(["gzip", "-t", "--", path], timeout)
    if result.exit_status == 0:
        return Check("gzip", True, "stream and CRC intact")
    return Check("gzip", False, _tool_words(result, "gzip", path))


async def _pg_restore(path: str, run: Runner, left: Callable[[], float]) -> Check:
    if not path.endswith(ARCHIVE_SUFFIXES):
        head = await run(["head", "-c", "5", "--", path], left())
        if head.stdout != "PGDMP":
            return Check("pg_restore", None, "not a custom or tar archive")
    listing = await run(["pg_restore", "--list", "--", path], left())
    if listing.exit_status != 0:
        return Check("pg_restore", False, _tool_words(listing, "pg_restore", path))
    entries = sum(1 for line in listing.stdout.splitlines() if line.strip() and not line.startswith(";"))
    # --list reads only the table of contents; a dump cut off in its data still lists. Reading every
    # entry into a script that goes nowhere is what a restore does first, without a database.
    full = await run(["pg_restore", "--file=/dev/null", "--", path], left())
    if full.exit_status != 0:
        return Check("pg_restore", False, _tool_words(full, "pg_restore", path))
    return Check("pg_restore", True, f"{entries} TOC entries, data readable")


async def _sha256(path: str, run: Runner, left: Callable[[], float]) -> Check:
    sidecar = await run(["cat", "--", f"{path}.sha256"], left())
    if sidecar.exit_status != 0:
        return Check("sha256", None, "no .sha256 beside it")
    expected = next(iter(sidecar.stdout.split()), "")
    if not _HEX64.fullmatch(expected):
        return Check("sha256", False, ".sha256 holds no SHA-256 digest")
    actual = await run(["sha256sum", "--", path], left())
    if actual.exit_status != 0:
        return Check("sha256", False, _tool_words(actual, "sha256sum", path))
    digest = next(iter(actual.stdout.split()), "")
    if digest.lower() != expected.lower():
        return Check("sha256", False, f"digest {digest[:12]}… does not match .sha256 {expected[:12]}…")
    return Check("sha256", True, "matches .sha256")


def _tool_words(result: CompletedRun, tool: str, path: str) -> str:
    """The tool's complaint without its name and the path it repeats: `gzip: /x.gz: unexpected end of file`."""
    if result.exit_status == NOT_FOUND:
        return f"`{tool}` is not installed there"
    words = last_words(result, drop=f"{path}: ")
    for prefix in (f"{tool}: ", "error: ", f"{tool}: error: "):
        words = words.removeprefix(prefix)
    return words



async def verify_backup(spec: BackupConfig, name: str, host: HostConfig | None = None,
                        connections: Connections | None = None, now: Callable[[], datetime] | None = None,
                        ) -> Verification:
    """Verify the file `name` of a directory source; ValueError for a source or name that cannot be."""
    if spec.kind != "directory" or not spec.path:
        raise ValueError(f"{spec.name}: only dump directories are verified here "
                         f"(pgBackRest checks its own sets: `pgbackrest verify`)")
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"{spec.name}: {name!r} is not a file name in {spec.path}")
    path = posixpath.join(spec.path, name)
    started = time.monotonic()
    checks = await verify_file(path, partial(run_argv, host=host, connections=connections), spec.verify_timeout)
    return Verification(spec.name, name, f"{spec.host}:{path}" if spec.host else path, checks,
                        (now or (lambda: datetime.now(timezone.utc)))(), time.monotonic() - started)


def record(ledger: Ledger, verification: Verification) -> Record:
    """Append the result to the sign-off ledger (durably, or LedgerError: then it is not recorded)."""
    return ledger.append(checklist=LEDGER_CHECKLIST, item_id=verification.source, item_text=verification.backup,
                         kind="verify", reason=verification.summary(), evidence=verification.to_json())


async def newest_file(spec: BackupConfig, host: HostConfig | None, connections: Connections | None) -> str:
    """The newest backup's file name in a directory source (ValueError saying why there is none)."""
    run = await run_argv(list_argv(spec.path or "", spec.pattern), spec.timeout, host, connections)
    listing = parse_listing(run, spec.path or "", spec.pattern, spec.name_time, spec.name_timezone)
    best = newest(listing.backups)
    if best is None:
        raise ValueError(f"{spec.name}: {listing.problem[1] if listing.problem else 'no backups found'}")
    return best.name


def verification_ledger(config: Config) -> Path | None:
    """The deck's ledger when it has one: [checklists] is configured, or its file already exists."""
    from launchdeck.checklists.signing import ledger_path

    path = ledger_path(config)
    return path if config.checklists is not None or path.exists() else None


def record_in_ledger(ledger_file: Path | None, verification: Verification) -> str:
    """Record the result when the deck has a ledger; the returned words say where, or why not."""
    if ledger_file is None:
        return "not recorded: no ledger (configure [checklists])"
    try:
        entry = record(Ledger(ledger_file), verification)
    except LedgerError as error:
        return f"NOT recorded: {error}"
    return f"recorded in {ledger_file} (#{entry.seq})"
