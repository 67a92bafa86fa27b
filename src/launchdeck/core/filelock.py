"""One process of several speaks: an exclusive `flock` on a lock file, taken without waiting and held
for as long as the process wants. The flight recorder (one writer per recording) and the Go/No-Go
announcer (one speaker per ledger) both use it."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def try_flock(path: Path) -> int | None:
    """The lock file's fd, locked, or None when another process holds it. Opening the file may raise
    OSError (a directory or a symlink at the path, an unwritable directory): the caller says what
    that means for it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd
