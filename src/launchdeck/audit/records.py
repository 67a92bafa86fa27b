"""What a ledger line is: the record, its canonical bytes and hash, and the one way a ledger file is
opened for reading (never through a symbolic link, only a regular file).

Split from ledger.py so the chain checks (chain.py) and the writer (ledger.py) share one definition
of a valid line without importing each other.
"""

from __future__ import annotations

import errno as errno_module
import hashlib
import json
import os
import re
import stat as stat_module
from dataclasses import dataclass
from pathlib import Path

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


class LedgerError(LaunchdeckError):
    """A write that did not become durable: nothing was signed. Names the file and the OS reason."""
    title = "ledger"

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


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


@dataclass(frozen=True)
class VerifyResult:
    """The first bad line and what is wrong with it; `records` counts the good lines before it and
    `head` is the hash of the last of them (GENESIS for none): the anchor a team keeps elsewhere,
    since removing the last records, or re-hashing from an edit onward, leaves a valid chain."""

    ok: bool
    records: int
    first_bad_line: int | None
    problem: str
    detail: str
    head: str = GENESIS
    bad_offset: int | None = None  # byte offset where the first bad line starts (what a repair sets aside)


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
