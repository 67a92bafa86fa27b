"""Checking a ledger's hash chain: where it first goes wrong, what the verified head is, and which
lines after that point a reader must not show as normal.

One scan serves the writer (an append refuses to extend a broken chain, and checks only what was
appended since its last look), `signoff verify`, `report`, `signoff list` and the TUI (`integrity`).
A chain that is intact can still have lost its last records, or been re-hashed from an edited
record onward: only a head kept elsewhere (`--expect-head`) catches that, so the head is printed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from launchdeck.audit.records import (
    _NOT_JSON,
    GENESIS,
    Record,
    VerifyResult,
    _hash_ok,
    _parse,
    read_ledger,
)

ANCHOR_MIN = 12  # hex digits of a kept head that `--expect-head` accepts (48 bits: no accidental match)
_HEX = re.compile("[0-9a-f]+")
_SET_ASIDE = "the next sign-off (or `launchdeck signoff repair`) sets it aside"  # a crash's torn line: routine


@dataclass
class Scan:
    """A scan's verdict plus what the writer needs to continue the chain."""

    result: VerifyResult
    last: Record | None  # the last good record (the one an append chains onto)
    last_line: bytes | None  # its bytes, without the newline (None: it came from before this scan)
    good_end: int  # byte offset just after the last good line
    torn: bool  # the only problem is a torn tail (an incomplete or non-JSON last line)
    records: list[Record] = field(default_factory=list)  # the good records, when asked to keep them


def _bad(line: int, problem: str, detail: str, head: str, offset: int) -> VerifyResult:
    """Every line before `line` was good."""
    return VerifyResult(False, line - 1, line, problem, f"line {line}: {detail}", head, offset)


def _sequence_words(lines: list[bytes], base: int, expected: int, found: int) -> tuple[str, str]:
    """Reordered if the expected seq is elsewhere in the file (found by bytes, confirmed by parsing), else deleted."""
    if found < expected:
        return "reordered", f"record seq {found} comes after seq {expected - 1} (reordered or repeated)"
    needle = b'"seq":%d' % expected
    where = next((base + n for n, line in enumerate(lines, 1) if (needle + b"," in line or needle + b"}" in line)
                  and getattr(_parse(line)[0], "seq", None) == expected), None)
    if where is not None:
        return "reordered", (f"record seq {found} is where seq {expected} belongs; "
                             f"seq {expected} is at line {where} (records reordered)")
    gap = f"seq {expected}" if found == expected + 1 else f"seqs {expected}..{found - 1}"
    return "deleted", f"{gap} missing before record seq {found} (record{'' if found == expected + 1 else 's'} deleted)"


def scan(data: bytes, *, after: Record | None = None, lines_before: int = 0, offset: int = 0,
         keep: bool = False) -> Scan:
    """Check `data` line by line: parse, hash, seq and prev_hash. `data` may be the part of a file
    after `lines_before` good lines ending at byte `offset` with record `after` (an append's check)."""
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the data ends with a newline
    last, last_line = after, None
    prev_seq, prev_hash = (after.seq, after.hash) if after else (0, GENESIS)
    kept: list[Record] = []
    at = offset
    for index, line in enumerate(lines):
        number = lines_before + index + 1
        record, why = _parse(line)
        problem = ""
        if record is None and index == len(lines) - 1 and not tail and why.startswith(_NOT_JSON):
            problem, detail = "torn", f"the last line is not JSON ({len(line)} bytes); {_SET_ASIDE}"
        elif record is None:
            problem, detail = "malformed", f"not a valid record: {why}"
        elif not _hash_ok(line, record):
            problem, detail = "edited", f"record seq {record.seq} was edited (hash mismatch)"
        elif record.seq != prev_seq + 1:
            problem, detail = _sequence_words(lines, lines_before, prev_seq + 1, record.seq)
        elif record.prev_hash != prev_hash:
            problem, detail = "chain broken", (f"record seq {record.seq} does not chain to the record before it "
                                               "(prev_hash mismatch)")
        if problem:
            return Scan(_bad(number, problem, detail, prev_hash, at), last, last_line, at, problem == "torn", kept)
        prev_seq, prev_hash, last, last_line = record.seq, record.hash, record, line
        at += len(line) + 1
        if keep:
            kept.append(record)
    count = lines_before + len(lines)
    if tail:
        result = _bad(count + 1, "torn", f"the last line is incomplete ({len(tail)} bytes, no newline); {_SET_ASIDE}",
                      prev_hash, at)
        return Scan(result, last, last_line, at, True, kept)
    return Scan(VerifyResult(True, count, None, "", f"{count} records, chain intact", prev_hash), last, last_line,
                at, False, kept)


def verify(path: Path) -> VerifyResult:
    """Check every line, the hashes and the chain; stop at the first bad line and say what it is.
    A cut-off end (last records removed whole) needs an outside anchor: keep `head` elsewhere."""
    return scan(read_ledger(Path(path))).result


def integrity(path: Path) -> VerifyResult:
    """verify() for a reader that may find no ledger yet (an intact, empty chain): what the TUI shows."""
    return scan(read_ledger(Path(path), missing_ok=True)).result


@dataclass(frozen=True)
class Unverified:
    """A line at or after the first bad line: shown apart, never as a normal record."""

    line: int
    record: Record | None  # None: not a record at all
    why: str  # why it is not a record ("" when it parses)


@dataclass(frozen=True)
class Checked:
    """A ledger as a reader should show it: the verified records, then every line that is not."""

    result: VerifyResult
    records: list[Record]
    unverified: list[Unverified]


def check_ledger(path: Path, missing_ok: bool = False) -> Checked:
    """Read and verify once; records from the first bad line on are returned apart, unverified."""
    data = read_ledger(Path(path), missing_ok=missing_ok)
    found = scan(data, keep=True)
    result, unverified = found.result, []
    if not result.ok:
        rest = data[result.bad_offset:].split(b"\n")
        if rest[-1] == b"":
            rest.pop()
        for number, line in enumerate(rest, result.first_bad_line):
            record, why = _parse(line)
            unverified.append(Unverified(number, record, why or ("" if record else "incomplete")))
    return Checked(result, found.records, unverified)


def normalise_anchor(text: str) -> str:
    """A kept head as typed: at least ANCHOR_MIN hex digits, any case; ValueError says what is wrong."""
    anchor = text.strip().lower()
    if not (ANCHOR_MIN <= len(anchor) <= 64 and _HEX.fullmatch(anchor)):
        raise ValueError(f"a head is {ANCHOR_MIN} to 64 hex digits (as `signoff verify` prints it), not {text!r}")
    return anchor


def anchor_problem(checked: Checked, anchor: str) -> str | None:
    """None when the intact chain ends at the kept head; otherwise what happened, in words."""
    result = checked.result
    if result.ok and result.head.startswith(anchor):
        return None
    where = next((r for r in checked.records if r.hash.startswith(anchor)), None)
    if not result.ok:
        state = f"the chain is broken at line {result.first_bad_line}"
    else:
        state = f"the head is seq {result.records} {result.head}, not {anchor}"
    if where is not None:
        return (f"{state}; the kept head is seq {where.seq}: {result.records - where.seq} verified record(s) "
                "follow it (added since it was kept, or the chain was changed after it)")
    return (f"{state}; no verified record has the kept head: the last records were removed, or the chain "
            "was re-hashed from an edited record onward")


__all__ = ["ANCHOR_MIN", "Checked", "Scan", "Unverified", "anchor_problem", "check_ledger", "integrity",
           "normalise_anchor", "scan", "verify"]
