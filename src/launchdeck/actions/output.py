"""A step's output: streamed line by line, capped in memory, written whole to the action's log file.

Bytes are split into lines before decoding and decoded with errors="replace", so a binary blob or
a Latin-1 file never ends a step. The log file (mode 0640; its SHA-256 goes into the ledger) gets
every byte as the command wrote it except the secrets: each whole line has the config's ${ENV}
values (core/redact.py's Scrubber) and URL/`password=` passwords masked before it is written,
non-UTF-8 bytes kept as they were (surrogateescape). The callback and memory get printable text
only, an escape sequence would otherwise reach the operator's terminal.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from launchdeck.core.plain import visible
from launchdeck.core.redact import Scrubber, mask_passwords

MEMORY_LINES = 2000  # lines kept in memory per action (the tail a screen shows)
LINE_LIMIT = 4000  # characters of one line passed on; the log file keeps it whole
PARTIAL_LIMIT = 64 * 1024  # bytes of a line without newline before it is passed on in pieces

LineCallback = Callable[[str, str], None]  # (stream: "out" | "err" | "launchdeck", printable line)


class ActionLog:
    """The log file of one action (all its steps) and the in-memory tail."""

    def __init__(self, path: Path, on_line: LineCallback | None = None, scrub: Scrubber | None = None) -> None:
        self.path = path
        self.on_line = on_line
        self.scrub = scrub or Scrubber()
        self.tail: deque[str] = deque(maxlen=MEMORY_LINES)
        self.bytes_written = 0
        self._digest = hashlib.sha256()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640)
        self._file: BinaryIO = os.fdopen(fd, "wb")

    def stream(self, name: str) -> LineStream:
        return LineStream(self, name)

    def note(self, text: str) -> None:
        """A line of launchdeck's own (a step starting, its exit status): in the file and the tail."""
        self._write(f"[launchdeck] {mask_passwords(self.scrub(text))}\n".encode())
        self._emit("launchdeck", text)

    def _write_masked(self, data: bytes) -> None:
        """Command output into the file with every secret masked; bytes that are not UTF-8 kept as they are."""
        text = data.decode("utf-8", "surrogateescape")
        masked = mask_passwords(self.scrub(text))
        self._write(data if masked == text else masked.encode("utf-8", "surrogateescape"))

    def _write(self, data: bytes) -> None:
        if self._file.closed:
            return
        self._file.write(data)
        self._digest.update(data)
        self.bytes_written += len(data)

    def _emit(self, stream: str, text: str) -> None:
        shown = visible(mask_passwords(self.scrub(text)))
        if len(shown) > LINE_LIMIT:
            shown = shown[:LINE_LIMIT - 1] + "…"
        self.tail.append(shown)
        if self.on_line is not None:
            try:
                self.on_line(stream, shown)
            except Exception:  # noqa: BLE001, S110 - a view's failure must not end the action
                pass

    def close(self) -> str:
        """Flush, fsync, close; the SHA-256 of every byte written."""
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        return self._digest.hexdigest()

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()


class LineStream:
    """Bytes of one stream (stdout or stderr) in, whole lines out."""

    def __init__(self, log: ActionLog, name: str) -> None:
        self.log, self.name = log, name
        self._pending = b""

    def feed(self, data: bytes) -> None:
        """Whole lines are masked and written at once (a secret split across two reads is still one
        line); a line longer than PARTIAL_LIMIT is written in pieces."""
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        if lines:
            self.log._write_masked(b"\n".join(lines) + b"\n")
        for line in lines:
            self.log._emit(self.name, line.rstrip(b"\r").decode("utf-8", "replace"))
        while len(self._pending) > PARTIAL_LIMIT:
            piece, self._pending = self._pending[:PARTIAL_LIMIT], self._pending[PARTIAL_LIMIT:]
            self.log._write_masked(piece)
            self.log._emit(self.name, piece.decode("utf-8", "replace"))

    def flush(self) -> None:
        if self._pending:
            self.log._write_masked(self._pending)
            self.log._emit(self.name, self._pending.decode("utf-8", "replace"))
            self._pending = b""
