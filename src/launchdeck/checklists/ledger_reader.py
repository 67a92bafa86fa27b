"""The ledger as the board reads it: only verified records, only what is new, the chain checked once.

`Ledger.read_new` hands back every line that parses, so a signer edited in the middle of the file
still showed as "signed by" the edited name. This reader checks the chain as `report` does: the
whole file on the first read, then only the lines appended since, chained onto the last verified
record (a 50,000-record ledger is not re-hashed on every poll). From the first bad line on nothing
is applied until `launchdeck signoff repair`: those lines are counted, never shown as signed. A file
replaced, cut or rewritten under us (a repair) is read again from its first line: `restarted`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from launchdeck.audit.chain import scan
from launchdeck.audit.records import (
    LedgerError,
    Record,
    VerifyResult,
    _link_words,
    _open_regular,
)


@dataclass(frozen=True)
class Read:
    """What one poll found: verified records new since the last (all of them when `restarted`)."""

    records: list[Record] = field(default_factory=list)
    restarted: bool = False  # the board must be rebuilt from `records`, not have them added on top
    gone: bool = False  # the ledger was there and is not any more


class VerifiedReader:
    """Whole lines only (a line still being written waits for its newline), verified in file order."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._reset()

    def _reset(self) -> None:
        self._identity: tuple[int, int] | None = None
        self._end = 0  # bytes consumed: whole lines, good or not
        self._tail = b""  # the last line consumed, to tell that the file still holds it where it was
        self._lines = 0  # lines consumed
        self._last: Record | None = None  # the last verified record: new lines chain onto it
        self.problem: VerifyResult | None = None  # the first bad line; stays until the file is rewritten
        self.torn: VerifyResult | None = None  # a last line that is not JSON: the next append sets it aside
        self.unverified = 0  # lines from the first bad one on: read, never applied

    @property
    def verified(self) -> int:
        """Lines verified and applied so far."""
        return self._lines - self.unverified

    def read(self) -> Read:
        """New verified records; LedgerError (one line) when the file cannot be read."""
        try:
            with _open_regular(self.path) as file:
                fd = file.fileno()
                stat = os.fstat(fd)
                restarted = self._moved(fd, stat)
                if restarted:
                    self._reset()
                self._identity = (stat.st_dev, stat.st_ino)
                data = os.pread(fd, stat.st_size - self._end, self._end) if stat.st_size > self._end else b""
        except FileNotFoundError:
            gone = self._identity is not None
            self._reset()
            return Read([], gone, gone)
        except OSError as error:
            raise LedgerError(f"{self.path}: not read: {error.strerror or error}{_link_words(error)}",
                              error.errno) from error
        cut = data.rfind(b"\n") + 1
        return Read(self._take(data[:cut]) if cut else [], restarted)

    def _moved(self, fd: int, stat: os.stat_result) -> bool:
        """Not the file we were reading, or not as we left it up to where we read."""
        if self._identity is None:
            return False
        if (stat.st_dev, stat.st_ino) != self._identity or stat.st_size < self._end:
            return True
        width = len(self._tail) + 1
        return self._end > 0 and os.pread(fd, width, self._end - width) != self._tail + b"\n"

    def _take(self, chunk: bytes) -> list[Record]:
        """Verify whole lines onto the chain so far; a torn last line is left unread until it changes."""
        self.torn = None
        if self.problem is not None:
            self._consume(chunk, chunk.count(b"\n"))
            self.unverified += chunk.count(b"\n")
            return []
        found = scan(chunk, after=self._last, lines_before=self._lines, offset=self._end, keep=True)
        good = found.good_end - self._end
        self._last = found.last
        if found.torn:
            self.torn = found.result  # a crash's half line: routine, set aside by the next sign-off
            self._consume(chunk[:good], len(found.records))
        else:
            self._consume(chunk, chunk.count(b"\n"))
            if not found.result.ok:
                self.problem = found.result
                self.unverified = chunk.count(b"\n") - len(found.records)
        return found.records

    def _consume(self, chunk: bytes, lines: int) -> None:
        if not chunk:
            return
        self._tail = chunk[chunk.rfind(b"\n", 0, len(chunk) - 1) + 1:-1]
        self._end += len(chunk)
        self._lines += lines


__all__ = ["Read", "VerifiedReader"]
