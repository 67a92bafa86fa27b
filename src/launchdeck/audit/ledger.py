"""The sign-off ledger: append-only JSON lines, hash-chained, fsynced before anyone says "signed".

DESIGN rule 5. Each append takes flock(LOCK_EX), reads only the file's tail to find the previous
record, writes the whole line with one os.write on an O_APPEND descriptor and fsyncs before it
returns, so terminals and processes sharing the file interleave whole records and a crash leaves
at most one torn last line. A torn line is never dropped or rewritten: its bytes are copied to a
side file and a "recovery" record in the chain says where (`Ledger.recover`). `verify` names the
first bad line and why.
"""

from __future__ import annotations

import errno as errno_module
import fcntl
import hashlib
import json
import os
import pwd
import re
import socket
import stat as stat_module
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, Mapping

from launchdeck.core.errors import LaunchdeckError

KINDS = ("sign", "unsign", "waive", "note", "action", "recovery", "verify")
GENESIS = "0" * 64
FIELDS = ("seq", "time", "operator", "checklist", "item_id", "item_text", "kind", "reason", "evidence",
          "prev_hash", "hash")
_TYPES = {"seq": int, "time": str, "operator": dict, "checklist": str, "item_id": str, "item_text": str,
          "kind": str, "reason": (str, type(None)), "evidence": (dict, type(None)), "prev_hash": str, "hash": str}
_FIELD_SET, _OPERATOR_SET = frozenset(FIELDS), frozenset(("login", "uid", "hostname", "ssh_client"))
_SHA256 = re.compile("[0-9a-f]{64}")
_NOT_JSON = "not JSON"


IO_TIMEOUT = 30.0  # s a ledger read or append may take on launchdeck's pool before the caller says it has not finished
OPEN_TRIES = 5  # opens of the ledger before giving up: only a race with another terminal retries


def _link_words(error: OSError) -> str:
    if error.errno == errno_module.ELOOP:
        return (" (it is a symbolic link: launchdeck reads and writes only a regular file; point the "
                "ledger setting at the file itself)")
    return ""


def _require_regular(path: Path, fd: int) -> None:
    if not stat_module.S_ISREG(os.fstat(fd).st_mode):
        raise LedgerError(f"{path}: not a regular file; a ledger is a file launchdeck creates")


def _open_regular(path: Path):
    """The ledger for reading: never through a symbolic link, only a regular file (opened without
    blocking, so a FIFO put in its place is refused instead of waiting for a writer for ever)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        _require_regular(path, fd)
        os.set_blocking(fd, True)
    except LedgerError:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_ledger(path: Path, missing_ok: bool = False) -> bytes:
    """The whole file, as `_open_regular` allows; LedgerError (one line, no traceback) otherwise."""
    try:
        with _open_regular(path) as file:
            return file.read()
    except FileNotFoundError:
        if missing_ok:
            return b""
        raise LedgerError(f"{path}: no such ledger", errno_module.ENOENT) from None
    except OSError as error:
        raise LedgerError(f"{path}: not read: {error.strerror or error}{_link_words(error)}", error.errno) from error


def canonical_bytes(obj: dict) -> bytes:
    """The one byte form that is hashed and written, so every reader recomputes the same hash."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _digest(body: dict) -> str:
    return hashlib.sha256(canonical_bytes(body)).hexdigest()


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
class Record:
    """One line of the ledger, exactly as written."""

    seq: int
    time: str
    operator: dict
    checklist: str
    item_id: str
    item_text: str
    kind: str
    reason: str | None
    evidence: dict | None
    prev_hash: str
    hash: str

    def to_json(self) -> dict:
        """A copy the caller may change without changing this record."""
        return json.loads(json.dumps(self._body() | {"hash": self.hash}))

    @classmethod
    def from_json(cls, obj: dict) -> Record:
        """Strict: a line with missing, extra or wrong-typed fields is not a record."""
        if not isinstance(obj, dict):
            raise ValueError(f"a record is a JSON object, not {type(obj).__name__}")
        if obj.keys() != _FIELD_SET:
            raise ValueError(f"missing {sorted(_FIELD_SET - obj.keys())}, unexpected {sorted(obj.keys() - _FIELD_SET)}")
        wrong = [name for name, kind in _TYPES.items() if not isinstance(obj[name], kind)]
        if wrong or type(obj["seq"]) is bool:
            name = (wrong or ["seq"])[0]
            raise ValueError(f"{name} has the wrong type ({type(obj[name]).__name__})")
        if obj["seq"] < 1 or obj["kind"] not in KINDS or obj["operator"].keys() != _OPERATOR_SET or not (
                _SHA256.fullmatch(obj["hash"]) and _SHA256.fullmatch(obj["prev_hash"])):
            raise ValueError(f"bad value: seq {obj['seq']}, kind {obj['kind']!r}, operator keys "
                             f"{sorted(obj['operator'])}, hash/prev_hash must be 64 lowercase hex digits")
        return cls(**obj)

    def _body(self) -> dict:
        """Everything but the hash: what the hash covers (shares this record's dicts)."""
        return {name: getattr(self, name) for name in FIELDS[:-1]}


class LedgerError(LaunchdeckError):
    """A write that did not become durable: nothing was signed. Names the file and the OS reason."""
    title = "ledger"

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


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


@dataclass(frozen=True)
class VerifyResult:
    """The first bad line and what is wrong with it; `records` counts the good lines before it."""

    ok: bool
    records: int
    first_bad_line: int | None
    problem: str
    detail: str


def _parse(line: bytes) -> tuple[Record | None, str]:
    """A record or why not; readers skip what verify() reports."""
    try:
        obj = json.loads(line)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors too
        return None, f"{_NOT_JSON}: {error}"
    try:
        return Record.from_json(obj), ""
    except ValueError as error:
        return None, str(error)


def _hash_ok(line: bytes, record: Record) -> bool:
    """Does the hash cover the content? Fast path: a canonical line minus its hash field is exactly the
    bytes that were hashed; anything else (re-spaced, re-ordered) is judged on its canonical form."""
    field = b'"hash":"%s",' % record.hash.encode()
    return (hashlib.sha256(line.replace(field, b"", 1)).hexdigest() == record.hash
            or _digest(record._body()) == record.hash)


def _records(data: bytes) -> list[Record]:
    return [r for r in (_parse(line)[0] for line in data.split(b"\n")[:-1]) if r is not None]


def _rfind_newline(fd: int, before: int) -> int:
    """Offset of the last newline before `before`, or -1: reads back in growing chunks (O(last line))."""
    chunk = 4096
    while before > 0:
        start = max(0, before - chunk)
        at = os.pread(fd, before - start, start).rfind(b"\n")
        if at >= 0 or start == 0:
            return start + at if at >= 0 else -1
        chunk *= 4
    return -1


def _tail(fd: int, size: int, known: bytes | None) -> tuple[int, bytes | None]:
    """(end of the last good line, that line). Bytes after the end are torn: a last line without its
    newline, or a newline-terminated last line that is not JSON at all (what verify calls torn)."""
    end = _rfind_newline(fd, size) + 1
    if end == 0:
        return 0, None
    start = _rfind_newline(fd, end - 1) + 1
    line = os.pread(fd, end - 1 - start, start)
    if end < size or line == known or not _parse(line)[1].startswith(_NOT_JSON):
        return end, line
    if start == 0:
        return 0, None
    before = _rfind_newline(fd, start - 1) + 1
    return start, os.pread(fd, start - 1 - before, before)


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


class Ledger:
    """One ledger file. Holds no descriptor between calls: terminals, threads and processes share it via flock."""

    def __init__(self, path: Path, *, clock: Callable[[], datetime] | None = None,
                 operator: Operator | None = None) -> None:
        self.path = Path(path)
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._operator = (operator or Operator.current()).to_json()
        self._offset, self._identity = 0, (-1, -1)  # read_new: how far, in which file (dev, inode)
        self._known: tuple[bytes, Record] | None = None  # the last line this object wrote or checked
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
        """On start: set aside a torn last line, or adopt a side file an interrupted recovery left unrecorded."""
        action = "torn tail not set aside"
        with self._locked(action, create=False) as (fd, _):
            if fd < 0:
                return None
            last = self._settle(fd, action)
            torn = self.last_warning  # the chain continues from its recovery record (`last`)
            adopted = self._adopt_orphans(fd, last, action)
            return torn or adopted

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
        """The last good record; a torn tail is set aside first so the chain continues from it."""
        self.last_warning = None
        size = os.fstat(fd).st_size
        known_line, known = self._known or (None, None)
        end, line = _tail(fd, size, known_line)
        last = None
        if line is not None and line == known_line:
            last = known  # the line this object last wrote or checked: no need to hash it again
        elif line is not None:
            last, why = _parse(line)
            if last is None or not _hash_ok(line, last):
                raise LedgerError(f"{self.path}: {action}: the last record (ending at byte {end}) is "
                                  f"{why or 'edited (hash mismatch)'}; run `launchdeck signoff verify`")
            self._known = (line, last)
        if end < size:
            self.last_warning = self._set_aside(fd, end, size, last, action)
            last = self.last_warning.record
        return last

    def _write(self, fd: int, last: Record | None, entry: dict, action: str) -> Record:
        body = {"seq": last.seq + 1 if last else 1, "time": _utc(self._clock()),
                "operator": dict(self._operator), **entry, "prev_hash": last.hash if last else GENESIS}
        record = Record(**body, hash=_digest(body))
        line = canonical_bytes(body | {"hash": record.hash}) + b"\n"
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
        self._known = (line[:-1], record)
        return record

    def _side_file(self, data: bytes) -> Path:
        """A new file next to the ledger holding `data`, durable (content and name) before we return."""
        stamp = _utc(self._clock(), "%Y%m%dT%H%M%S.%fZ")
        for attempt in range(1000):
            side = Path(f"{self.path}.torn-{stamp}" + (f"-{attempt}" if attempt else ""))
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
                  reason: str, action: str) -> LedgerWarning:
        evidence = {"side_file": side.name, "bytes": len(torn), "offset": offset,
                    "sha256": hashlib.sha256(torn).hexdigest()}
        record = self._write(fd, last, _entry("", "", "", "recovery", reason, evidence), action)
        return LedgerWarning(self.path, side, len(torn), record, f"{self.path}: {reason}; recorded as seq {record.seq}")

    def _adopt_orphans(self, fd: int, last: Record | None, action: str) -> LedgerWarning | None:
        """Side files no recovery record names: a recovery that died after the cut. Start-up only."""
        sides = sorted(p for p in self.path.parent.iterdir() if p.name.startswith(f"{self.path.name}.torn-"))
        data = self.path.read_bytes() if sides else b""
        warning = None
        for side in sides:
            if json.dumps(side.name, ensure_ascii=False)[1:-1].encode("utf-8") not in data:
                torn = side.read_bytes()
                reason = (f"side file {side.name} ({len(torn)} bytes) was not recorded: "
                          "an earlier recovery was interrupted after setting it aside")
                warning = self._recovery(fd, last, side, torn, None, reason, action)
                last = warning.record
        return warning


def _bad(line: int, problem: str, detail: str) -> VerifyResult:
    """Every line before `line` was good."""
    return VerifyResult(False, line - 1, line, problem, f"line {line}: {detail}")


def _sequence_problem(lines: list[bytes], number: int, expected: int, found: int) -> VerifyResult:
    """Reordered if the expected seq is elsewhere in the file (found by bytes, confirmed by parsing), else deleted."""
    if found < expected:
        return _bad(number, "reordered", f"record seq {found} comes after seq {expected - 1} (reordered or repeated)")
    needle = b'"seq":%d' % expected
    where = next((n for n, line in enumerate(lines, 1) if (needle + b"," in line or needle + b"}" in line)
                  and getattr(_parse(line)[0], "seq", None) == expected), None)
    if where is not None:
        return _bad(number, "reordered", f"record seq {found} is where seq {expected} belongs; "
                                         f"seq {expected} is at line {where} (records reordered)")
    gap = f"seq {expected}" if found == expected + 1 else f"seqs {expected}..{found - 1}"
    return _bad(number, "deleted", f"{gap} missing before record seq {found} "
                                   f"(record{'' if found == expected + 1 else 's'} deleted)")


def verify(path: Path) -> VerifyResult:
    """Check every line, the hashes and the chain; stop at the first bad line and say what it is.
    A cut-off end (last records removed whole) needs an outside anchor: note the last hash elsewhere."""
    lines = read_ledger(Path(path)).split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    prev_seq, prev_hash = 0, GENESIS
    for number, line in enumerate(lines, 1):
        record, why = _parse(line)
        if record is None and number == len(lines) and not tail and why.startswith(_NOT_JSON):
            return _bad(number, "torn", f"the last line is not JSON ({len(line)} bytes); recover() sets it aside")
        if record is None:
            return _bad(number, "malformed", f"not a valid record: {why}")
        if not _hash_ok(line, record):
            return _bad(number, "edited", f"record seq {record.seq} was edited (hash mismatch)")
        if record.seq != prev_seq + 1:
            return _sequence_problem(lines, number, prev_seq + 1, record.seq)
        if record.prev_hash != prev_hash:
            return _bad(number, "chain broken", f"record seq {record.seq} does not chain to the record before it "
                                                "(prev_hash mismatch)")
        prev_seq, prev_hash = record.seq, record.hash
    if tail:
        return _bad(len(lines) + 1, "torn", f"the last line is incomplete ({len(tail)} bytes, no newline); "
                                            "recover() sets it aside")
    return VerifyResult(True, len(lines), None, "", f"{len(lines)} records, chain intact")
