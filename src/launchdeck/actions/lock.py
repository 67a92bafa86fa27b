"""One action at a time: a lock file beside the ledger, shared by every operator and terminal.

Created with O_CREAT|O_EXCL|O_NOFOLLOW (atomic; a symbolic link in its place is refused, never
followed), holding one JSON object: who (login, host, pid and the pid's start time), which action
with which parameters, why, since when, and a random token. A held lock is reported with its holder
and age. It is stale when its holder ran on this host and that process is gone (a SIGKILLed
`launchdeck act`, a closed terminal): the pid's start time guards against a recycled pid. Only a
stale lock can be broken, only with a reason, and the caller records that reason in the ledger.
`held()` is a context manager whose `finally` releases the lock on success, failure, cancel,
timeout and exceptions alike.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from launchdeck.core.errors import LaunchdeckError
from launchdeck.core.plain import visible

LOCK_SUFFIX = ".action.lock"
MAX_LOCK_BYTES = 64 * 1024


class LockError(LaunchdeckError):
    """The lock is held (by someone else, or stale and not broken) or cannot be made."""
    title = "locked"

    def __init__(self, message: str, holder: dict | None = None, stale: bool = False) -> None:
        super().__init__(message)
        self.holder = holder or {}
        self.stale = stale


def lock_path_for(ledger: Path) -> Path:
    return ledger.with_name(ledger.name + LOCK_SUFFIX)


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22), or None."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2:].split()
    return fields[19].decode() if len(fields) > 19 else None


def pid_alive(pid: object, start: object = None) -> bool:
    """True while that process exists (and, when its start time is known, is the same process)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, another user's
    if start is not None:
        now = process_start(pid)
        return now is None or now == start
    return True


def age_words(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


@dataclass
class ActionLock:
    """The lock file's contents; `token` tells our own lock from a successor's."""

    path: Path
    holder: dict = field(default_factory=dict)

    @classmethod
    def mine(cls, path: Path, login: str, action: str, params: dict[str, str], reason: str | None) -> ActionLock:
        pid = os.getpid()
        return cls(path, {"login": login, "host": socket.gethostname(), "pid": pid,
                          "pid_start": process_start(pid), "action": action, "params": params,
                          "reason": reason, "started": time.time(), "token": secrets.token_hex(16)})

    def line(self) -> str:
        return json.dumps(self.holder, sort_keys=True, separators=(",", ":"))


def read_holder(path: Path) -> dict | None:
    """The holder written in the lock file; None when there is no lock. {} for an unreadable one."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise LockError(f"{path}: is a symbolic link; refusing to use it as the action lock") from None
        raise LockError(f"{path}: cannot read the action lock: {error.strerror}") from None
    try:
        data = os.read(fd, MAX_LOCK_BYTES)
    finally:
        os.close(fd)
    try:
        holder = json.loads(data)
        return holder if isinstance(holder, dict) else {}
    except ValueError:
        return {}  # torn (the holder died while writing it): stale only if it is also old


def is_stale(holder: dict) -> bool:
    """Stale: its holder ran on this host and is gone. A lock from another host is never guessed stale."""
    if not holder:
        return True
    return holder.get("host") == socket.gethostname() and not pid_alive(holder.get("pid"), holder.get("pid_start"))


def describe(holder: dict, path: Path) -> str:
    """`held by alice@ops1 (pid 4242) running deploy version=v2 for 3m: reason`, as printable text."""
    if not holder:
        return f"the action lock {path} is unreadable (torn); it is stale"
    params = " ".join(f"{k}={v}" for k, v in (holder.get("params") or {}).items())
    try:
        age = age_words(time.time() - float(holder.get("started", 0)))
    except (TypeError, ValueError):
        age = "?"
    stale = ", stale: its process is gone" if is_stale(holder) else ""
    why = f" ({holder['reason']})" if holder.get("reason") else ""
    return visible(f"held by {holder.get('login', '?')}@{holder.get('host', '?')} (pid {holder.get('pid', '?')}) "
                   f"running {holder.get('action', '?')}{' ' + params if params else ''} for {age}{why}{stale}")


def acquire(lock: ActionLock) -> None:
    """Create the lock file atomically, or raise LockError naming its holder (and whether it is stale)."""
    path = lock.path
    data = (lock.line() + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        holder = read_holder(path)
        if holder is None:  # released between our two calls: one more try
            return acquire_once_more(lock)
        raise LockError(f"action lock {describe(holder, path)}", holder, is_stale(holder)) from None
    except OSError as error:
        raise LockError(f"{path}: cannot create the action lock: {error.strerror}") from None
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def acquire_once_more(lock: ActionLock) -> None:
    try:
        fd = os.open(lock.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        holder = read_holder(lock.path) or {}
        raise LockError(f"action lock {describe(holder, lock.path)}", holder, is_stale(holder)) from None
    try:
        os.write(fd, (lock.line() + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def break_stale(path: Path, reason: str) -> dict:
    """Remove a stale lock (never a live one); the holder it had, for the ledger record. The file is
    renamed aside first, so two operators breaking it at once cannot remove a fresh lock taken meanwhile."""
    if not reason.strip():
        raise LockError("breaking a lock needs a reason (it is recorded in the ledger)")
    holder = read_holder(path)
    if holder is None:
        return {}
    if not is_stale(holder):
        raise LockError(f"action lock {describe(holder, path)}; it is not stale and cannot be broken", holder)
    aside = path.with_name(f"{path.name}.broken-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return holder  # someone else broke it first
    moved = read_holder(aside) or {}
    if moved.get("token") != holder.get("token"):  # a fresh lock arrived between our read and rename: put it back
        with contextlib.suppress(FileExistsError):  # yet another holder is there: theirs stands
            os.link(aside, path)
        os.unlink(aside)
        raise LockError(f"action lock {describe(moved, path)}: taken again while breaking it", moved)
    os.unlink(aside)
    return holder


def release(lock: ActionLock) -> bool:
    """Remove the lock file if it is still ours (same token); False otherwise (left alone)."""
    try:
        holder = read_holder(lock.path)
    except LockError:
        return False
    if holder is None or holder.get("token") != lock.holder.get("token"):
        return False
    try:
        os.unlink(lock.path)
    except FileNotFoundError:
        return False
    return True
