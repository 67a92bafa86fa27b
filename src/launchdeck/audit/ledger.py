"""The sign-off ledger: append-only JSON lines, hash-chained, fsynced before anyone says "signed".

DESIGN rule 5. Each append takes flock(LOCK_EX), checks the chain (the whole file once per Ledger
object, then only what was appended since), writes the whole line with one os.write on an O_APPEND
descriptor and fsyncs before it returns, so terminals and processes sharing the file interleave
whole records and a crash leaves at most one torn last line. A torn line is never dropped or
rewritten: its bytes are copied to a side file and a "recovery" record in the chain says where
(`Ledger.recover`). An append never extends a broken chain; `Ledger.repair` sets everything from
the first bad line on aside the same way. What a line is: records.py; checking a chain: chain.py.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pwd
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, Mapping

from launchdeck.audit.chain import Scan, integrity, scan, verify
from launchdeck.audit.records import (
    _TYPES,
    FIELDS,
    GENESIS,
    KINDS,
    LedgerError,
    Record,
    VerifyResult,
    _digest,
    _link_words,
    _open_regular,
    _records,
    _require_regular,
    canonical_bytes,
    read_ledger,
)

IO_TIMEOUT = 30.0  # s a ledger read or append may take on launchdeck's pool before the caller says it has not finished
OPEN_TRIES = 5  # opens of the ledger before giving up: only a race with another terminal retries
SIDE_TAGS = ("torn", "set-aside")  # side files: `<ledger>.torn-<time>` (a crash), `.set-aside-<time>` (a repair)


def _utc(moment: datetime, fmt: str = "%Y-%m-%dT%H:%M:%S.%fZ") -> str:
    """UTC with microseconds; a naive clock is taken to be UTC already."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime(fmt)


def _login() -> str:
    """getlogin() names the person at the terminal even under sudo; without utmp (daemons, containers), passwd."""
    try:
        return os.getlogin()
    except OSError:
        try:
            return pwd.getpwuid(os.getuid()).pw_name
        except KeyError:
            return str(os.getuid())


@dataclass(frozen=True)
class Operator:
    """Who signed: the login and uid of the process, the host, and the SSH client address if any."""

    login: str
    uid: int
    hostname: str
    ssh_client: str | None

    @classmethod
    def current(cls, environ: Mapping[str, str] | None = None) -> Operator:
        env = os.environ if environ is None else environ
        words = (env.get("SSH_CONNECTION") or "").split() or (env.get("SSH_CLIENT") or "").split()
        return cls(_login(), os.getuid(), socket.gethostname(), words[0] if words else None)

    def to_json(self) -> dict:
        return {"login": self.login, "uid": self.uid, "hostname": self.hostname, "ssh_client": self.ssh_client}


@dataclass(frozen=True)
class LedgerWarning:
    """A torn tail found and set aside: where its bytes went and the record that says so."""

    path: Path
    side_file: Path
    torn_bytes: int
    record: Record
    message: str

    def __str__(self) -> str:
        return self.message


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fsync_dir(directory: Path) -> None:
    """A new file's name is durable only once its directory is."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _entry(checklist: str, item_id: str, item_text: str, kind: str, reason: str | None,
           evidence: dict | None) -> dict:
    """Check and normalise the caller's fields before the file is touched."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind in ("unsign", "waive") and not (isinstance(reason, str) and reason.strip()):
        raise ValueError(f"{kind} needs a reason")
    entry = {"checklist": checklist, "item_id": item_id, "item_text": item_text, "kind": kind, "reason": reason,
             "evidence": evidence}
    for name, value in entry.items():
        if not isinstance(value, _TYPES[name]):
            raise ValueError(f"{name} has the wrong type ({type(value).__name__})")
    try:  # round trip: the Record returned is exactly what a reader will get back from the file
        text = json.dumps(entry, sort_keys=True, allow_nan=False, ensure_ascii=False)
        text.encode("utf-8")
    except (TypeError, ValueError) as error:
        raise ValueError(f"cannot be recorded as JSON: {error}") from error
    return entry if evidence is None else json.loads(text)


@dataclass(frozen=True)
class Repair:
    """What `Ledger.repair` set aside (or would: `warning` is None on a dry run)."""

    path: Path
    problem: VerifyResult  # the first bad line, as verify() named it
    lines: int
    bytes: int
    warning: LedgerWarning | None

    def __str__(self) -> str:
        if self.warning is None:
            return (f"{self.path}: would set {self.lines} line(s) ({self.bytes} bytes) aside from line "
                    f"{self.problem.first_bad_line}: {self.problem.problem}: {self.problem.detail}")
        return (f"{self.path}: set {self.lines} line(s) ({self.bytes} bytes) aside from line "
                f"{self.problem.first_bad_line} in {self.warning.side_file.name}; recorded as seq "
                f"{self.warning.record.seq}, head {self.warning.record.hash}")


@dataclass(frozen=True)
class _Checked:
    """How far one Ledger object has verified its file: up to byte `end`, `lines` good lines, the last
    being `line` (record `last`). Trusted again only if that line is still there in the same file."""

    identity: tuple[int, int]
    end: int
    lines: int
    line: bytes
    last: Record | None

    def holds(self, fd: int, size: int) -> bool:
        stat = os.fstat(fd)
        if (stat.st_dev, stat.st_ino) != self.identity or size < self.end:
            return False
        if self.end == 0:
            return True
        width = len(self.line) + 1
        return self.end >= width and os.pread(fd, width, self.end - width) == self.line + b"\n"


class Ledger:
    """One ledger file. Holds no descriptor between calls: terminals, threads and processes share it via flock."""

    def __init__(self, path: Path, *, clock: Callable[[], datetime] | None = None,
                 operator: Operator | None = None) -> None:
        self.path = Path(path)
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._operator = (operator or Operator.current()).to_json()
        self._offset, self._identity = 0, (-1, -1)  # read_new: how far, in which file (dev, inode)
        self._chain: _Checked | None = None  # how far this object has verified the chain, and its last record
        self.last_warning: LedgerWarning | None = None  # set when the latest append set a torn tail aside

    def append(self, *, checklist: str, item_id: str, item_text: str, kind: str, reason: str | None = None,
               evidence: dict | None = None) -> Record:
        """Append durably and return the record, or raise LedgerError: then nothing was signed."""
        entry = _entry(checklist, item_id, item_text, kind, reason, evidence)
        with self._locked("not signed", create=True) as (fd, created):
            record = self._write(fd, self._settle(fd, "not signed"), entry, "not signed")
            if created:
                _fsync_dir(self.path.parent)
        return record

    def recover(self) -> LedgerWarning | None:
        """On start: set aside a torn last line, or adopt a side file an interrupted recovery left unrecorded.
        A chain broken before its last line raises LedgerError naming the line (see `repair`)."""
        action = "torn tail not set aside"
        with self._locked(action, create=False) as (fd, _):
            if fd < 0:
                return None
            last = self._settle(fd, action)
            torn = self.last_warning  # the chain continues from its recovery record (`last`)
            adopted = self._adopt_orphans(fd, last, action)
            return torn or adopted

    def repair(self, dry_run: bool = False) -> Repair | None:
        """Set everything from the first bad line on aside, into a side file beside the ledger, and chain
        a recovery record saying what, where and its sha256: the chain is valid again and not a byte is
        dropped. None when the chain is intact. The only way past a line an append refuses to chain onto."""
        action = "not repaired"
        with self._locked(action, create=False) as (fd, _):
            if fd < 0:
                raise LedgerError(f"{self.path}: no such ledger")
            size = os.fstat(fd).st_size
            found = self._remember(fd, scan(os.pread(fd, size, 0)))  # a repair always looks at every line
            result = found.result
            if result.ok:
                return None
            bad = os.pread(fd, size - found.good_end, found.good_end)
            lines = bad.count(b"\n") + (not bad.endswith(b"\n"))
            plan = Repair(self.path, result, lines, len(bad), None)
            if dry_run:
                return plan
            side = self._side_file(bad, "set-aside")
            os.ftruncate(fd, found.good_end)
            os.fsync(fd)
            reason = (f"repair: {lines} line(s) from line {result.first_bad_line} ({len(bad)} bytes at byte "
                      f"{found.good_end}) set aside in {side.name}; {result.problem}: {result.detail}")
            warning = self._recovery(fd, found.last, side, bad, found.good_end, reason, action,
                                     {"line": result.first_bad_line, "problem": result.problem})
            return Repair(self.path, result, lines, len(bad), warning)

    def records(self) -> list[Record]:
        """Every complete, parseable record in file order; a torn tail is excluded."""
        data = read_ledger(self.path, missing_ok=True)
        return _records(data[: data.rfind(b"\n") + 1])

    def read_new(self) -> list[Record]:
        """Records appended since the previous call (the first: all); only whole lines are consumed."""
        try:
            with _open_regular(self.path) as file:
                stat = os.fstat(file.fileno())
                if (stat.st_dev, stat.st_ino) != self._identity or stat.st_size < self._offset:
                    self._identity, self._offset = (stat.st_dev, stat.st_ino), 0  # new or replaced file
                if self._offset and os.pread(file.fileno(), 1, self._offset - 1) != b"\n":
                    self._offset = 0  # the file was cut and rewritten past where we were (a repair): start over
                file.seek(self._offset)
                data = file.read()
        except FileNotFoundError:
            return []
        except OSError as error:
            raise self._error("not read", error, _link_words(error)) from error
        end = data.rfind(b"\n") + 1
        self._offset += end
        return _records(data[:end])

    def _error(self, action: str, error: OSError, extra: str = "") -> LedgerError:
        return LedgerError(f"{self.path}: {action}: {error.strerror or error}{extra}", error.errno)

    @contextmanager
    def _locked(self, action: str, *, create: bool) -> Iterator[tuple[int, bool]]:
        """An O_APPEND descriptor holding LOCK_EX; fd -1 when the file is missing and create is False.
        Read-write (not write-only) so the tail is read through the very descriptor that is locked.
        Never through a symbolic link, only a regular file, and a bounded number of tries: a dangling
        link once made this loop spin for ever (open: no file; create: the link exists)."""
        flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW
        fd, created = -1, False
        try:
            for _ in range(OPEN_TRIES):
                try:
                    fd = os.open(self.path, flags)
                    break
                except FileNotFoundError:
                    if not create:
                        break
                    try:
                        fd, created = os.open(self.path, flags | os.O_CREAT | os.O_EXCL, 0o644), True
                        break
                    except FileExistsError:
                        continue  # another terminal created it between our two opens
            else:
                raise LedgerError(f"{self.path}: {action}: could not open or create it in {OPEN_TRIES} tries")
            if fd >= 0:
                _require_regular(self.path, fd)
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd, created
        except OSError as error:
            raise self._error(action, error, _link_words(error)) from error
        finally:
            if fd >= 0:
                os.close(fd)  # releases the lock

    def _settle(self, fd: int, action: str) -> Record | None:
        """The last good record, once the chain up to it is verified: the whole file the first time,
        then only what was appended since (so an append reads O(new lines)). A torn tail is set aside
        first so the chain continues from it; any other bad line refuses, naming the line."""
        self.last_warning = None
        size = os.fstat(fd).st_size
        known = self._chain if self._chain and self._chain.holds(fd, size) else None
        if known:
            found = scan(os.pread(fd, size - known.end, known.end), after=known.last, lines_before=known.lines,
                         offset=known.end)
            if found.last_line is None:
                found.last_line = known.line
        else:
            found = scan(os.pread(fd, size, 0))
        self._remember(fd, found)
        result = found.result
        if not result.ok and not found.torn:
            raise LedgerError(
                f"{self.path}: {action}: the chain is broken at line {result.first_bad_line} ({result.problem}: "
                f"{result.detail}); nothing is chained onto a broken chain. `launchdeck signoff verify {self.path}` "
                f"shows it; `launchdeck signoff repair {self.path}` sets line {result.first_bad_line} onward aside "
                "in a side file (nothing is deleted) so sign-offs can continue")
        last = found.last
        if found.torn:
            self.last_warning = self._set_aside(fd, found.good_end, size, last, action)
            last = self.last_warning.record
        return last

    def _remember(self, fd: int, found: Scan) -> Scan:
        """Verified up to the last good line: the next append starts its check there."""
        stat = os.fstat(fd)
        self._chain = _Checked((stat.st_dev, stat.st_ino), found.good_end, found.result.records,
                               found.last_line or b"", found.last)
        return found

    def _write(self, fd: int, last: Record | None, entry: dict, action: str) -> Record:
        body = {"seq": last.seq + 1 if last else 1, "time": _utc(self._clock()),
                "operator": dict(self._operator), **entry, "prev_hash": last.hash if last else GENESIS}
        record = Record(**body, hash=_digest(body))
        line = canonical_bytes(body | {"hash": record.hash}) + b"\n"
        at, known, self._chain = os.fstat(fd).st_size, self._chain, None  # unknown until the line is durable
        try:
            written = os.write(fd, line)
            if written < len(line):
                # The size limit or the disk ran out mid-line. Asking for the rest either fails, and
                # says why (the prefix is a torn tail that the next append sets aside), or completes
                # the line, which is then as whole and chained as any other.
                _write_all(fd, line[written:])
        except OSError as error:
            raise self._error(action, error) from error
        try:
            os.fsync(fd)
        except OSError as error:
            raise self._error(action, error, " (fsync failed: the record may be in the file but is "
                                              "not known to be on disk)") from error
        if known is not None and known.end == at and known.last is last:
            self._chain = _Checked(known.identity, at + len(line), known.lines + 1, line[:-1], record)
        return record

    def _side_file(self, data: bytes, tag: str = "torn") -> Path:
        """A new file next to the ledger holding `data`, durable (content and name) before we return."""
        stamp = _utc(self._clock(), "%Y%m%dT%H%M%S.%fZ")
        for attempt in range(1000):
            side = Path(f"{self.path}.{tag}-{stamp}" + (f"-{attempt}" if attempt else ""))
            try:
                fd = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            except FileExistsError:
                continue  # the same timestamp (a fixed clock): take the next suffix
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            _fsync_dir(side.parent)
            return side
        raise LedgerError(f"{self.path}: no free side file name for {stamp}")

    def _set_aside(self, fd: int, end: int, size: int, last: Record | None, action: str) -> LedgerWarning:
        """Copy the torn bytes out, cut them off, then say so in the chain, each step durable before the
        next. A crash between the cut and the record leaves an unrecorded side file: recover() adopts it."""
        torn = os.pread(fd, size - end, end)
        side = self._side_file(torn)
        os.ftruncate(fd, end)
        os.fsync(fd)
        reason = f"torn last line of {len(torn)} bytes at byte {end} set aside in {side.name}"
        return self._recovery(fd, last, side, torn, end, reason, action)

    def _recovery(self, fd: int, last: Record | None, side: Path, torn: bytes, offset: int | None,
                  reason: str, action: str, extra: dict | None = None) -> LedgerWarning:
        evidence = {"side_file": side.name, "bytes": len(torn), "offset": offset,
                    "sha256": hashlib.sha256(torn).hexdigest(), **(extra or {})}
        record = self._write(fd, last, _entry("", "", "", "recovery", reason, evidence), action)
        return LedgerWarning(self.path, side, len(torn), record, f"{self.path}: {reason}; recorded as seq {record.seq}")

    def _adopt_orphans(self, fd: int, last: Record | None, action: str) -> LedgerWarning | None:
        """Side files no recovery record names: a recovery that died after the cut. Start-up only."""
        prefixes = tuple(f"{self.path.name}.{tag}-" for tag in SIDE_TAGS)
        sides = sorted(p for p in self.path.parent.iterdir() if p.name.startswith(prefixes))
        data = os.pread(fd, os.fstat(fd).st_size, 0) if sides else b""  # the locked file, not the path again
        warning = None
        for side in sides:
            if json.dumps(side.name, ensure_ascii=False)[1:-1].encode("utf-8") not in data:
                torn = side.read_bytes()
                reason = (f"side file {side.name} ({len(torn)} bytes) was not recorded: "
                          "an earlier recovery was interrupted after setting it aside")
                warning = self._recovery(fd, last, side, torn, None, reason, action)
                last = warning.record
        return warning


__all__ = ["FIELDS", "GENESIS", "IO_TIMEOUT", "KINDS", "Ledger", "LedgerError", "LedgerWarning", "Operator",
           "Record", "Repair", "VerifyResult", "canonical_bytes", "integrity", "read_ledger", "verify"]
