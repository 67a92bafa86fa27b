"""One action at a time: a lock file beside the ledger, shared by every operator and terminal.

Created with O_CREAT|O_EXCL|O_NOFOLLOW (atomic; a symbolic link in its place is refused, never
followed), holding one JSON object: who (login, host, the host's boot id, pid and the pid's start
time), which action with which parameters, why, since when, until when its steps and watch window
may run (`deadline`), and a random token. While a local step runs, the lock also names it and its
process group (`step`, `step_host`, `step_pgid`, `step_pgid_start`), rewritten atomically (rename).

A held lock is reported with its holder and age. It is stale when:
- its holder ran on this host (same boot) and that process is gone (a SIGKILLed `launchdeck act`,
  a closed terminal): the pid's start time guards against a recycled pid;
- its holder ran on this host before a reboot (another boot id): no process of it is left;
- its holder ran on another host (a shared ledger folder): nothing of it can be checked from here,
  so it is judged by age: stale once `deadline` (its action's timeout) plus OTHER_HOST_GRACE has
  passed, and the message says so. A lock without a deadline from another host is never guessed.
A SIGKILLed holder's step keeps running in its own process group (the orphan): the lock says so,
and breaking the lock while it runs needs `kill_orphan` (the group is ended first, and recorded).
Only a stale lock can be broken, only with a reason, and the caller records that reason in the ledger.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from launchdeck.core.errors import LaunchdeckError
from launchdeck.core.plain import visible
from launchdeck.run.argv import kill_group

LOCK_SUFFIX = ".action.lock"
MAX_LOCK_BYTES = 64 * 1024
OTHER_HOST_GRACE = 600.0  # s past another host's deadline before its lock is judged stale
ORPHAN_GRACE = 2.0  # s between SIGTERM and SIGKILL of an orphaned step's group
STEP_FIELDS = ("step", "step_host", "step_pgid", "step_pgid_start")


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


def boot_id() -> str | None:
    """This boot of this machine (a reboot changes it): a pid from another boot means nothing now."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def group_alive(pgid: object, leader_start: object = None) -> bool:
    """True while some process of that group lives. When its leader is alive with another start time,
    the id was recycled by a new session (Linux reuses a pgid only once the old group is empty)."""
    if not isinstance(pgid, int) or isinstance(pgid, bool) or pgid <= 1:
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, another user's
    if not _running_members(pgid):
        return False
    now = process_start(pgid)
    return leader_start is None or now is None or now == leader_start


def _running_members(pgid: int) -> bool:
    """Some process of the group is not a zombie (an orphan's parent may never reap it: a container's
    init). Without /proc, what killpg said stands."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            data = (entry / "stat").read_bytes()
        except OSError:
            continue  # ended while we looked
        fields = data[data.rfind(b")") + 2:].split()
        if len(fields) > 2 and fields[2] == str(pgid).encode() and fields[0] != b"Z":
            return True
    return False


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
    def mine(cls, path: Path, login: str, action: str, params: dict[str, str], reason: str | None,
             budget: float | None = None) -> ActionLock:
        """`budget`: seconds its steps and watch window may take (another host judges staleness by it)."""
        pid, now = os.getpid(), time.time()
        holder = {"login": login, "host": socket.gethostname(), "boot_id": boot_id(), "pid": pid,
                  "pid_start": process_start(pid), "action": action, "params": params, "reason": reason,
                  "started": now, "token": secrets.token_hex(16)}
        if budget is not None:
            holder["deadline"] = now + budget
        return cls(path, holder)

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


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def here(holder: dict) -> bool:
    """The holder ran on this machine: same host name, and (when both are known) the same boot."""
    if holder.get("host") != socket.gethostname():
        return False
    ours, theirs = boot_id(), holder.get("boot_id")
    return ours is None or theirs is None or theirs == ours


def staleness(holder: dict) -> str | None:
    """Why the lock is stale, in words; None while its holder may still be running."""
    if not holder:
        return "unreadable (torn)"
    if holder.get("host") == socket.gethostname():
        if not here(holder):
            return "this host has rebooted since it was taken (another boot id): its process is gone"
        return None if pid_alive(holder.get("pid"), holder.get("pid_start")) else "its process is gone"
    deadline = _number(holder.get("deadline"))
    if deadline is None:
        return None
    past = time.time() - (deadline + OTHER_HOST_GRACE)
    if past < 0:
        return None
    return (f"held from another host, {age_words(past)} past its action's timeout plus "
            f"{age_words(OTHER_HOST_GRACE)} grace (its process cannot be checked from here)")


def is_stale(holder: dict) -> bool:
    """Stale: its holder ran here and is gone, or ran on another host and is past its deadline plus grace."""
    return staleness(holder) is not None


def orphan(holder: dict) -> int | None:
    """The process group of the step a dead holder left running here, while some process of it lives."""
    if not here(holder) or holder.get("step_host", "local") != "local":
        return None
    pgid = holder.get("step_pgid")
    return pgid if group_alive(pgid, holder.get("step_pgid_start")) else None


def _other_host_words(holder: dict) -> str:
    deadline = _number(holder.get("deadline"))
    if deadline is None:
        return "; from another host, without a deadline: never judged stale from here"
    left = deadline + OTHER_HOST_GRACE - time.time()
    return (f"; from another host: judged stale only after its action's timeout plus {age_words(OTHER_HOST_GRACE)} "
            f"grace (in {age_words(left)})")


def describe(holder: dict, path: Path) -> str:
    """`held by alice@ops1 (pid 4242) running deploy version=v2 for 3m: reason`, as printable text; why it
    is stale, and a step still running in its process group."""
    if not holder:
        return f"the action lock {path} is unreadable (torn); it is stale"
    params = " ".join(f"{k}={v}" for k, v in (holder.get("params") or {}).items())
    try:
        age = age_words(time.time() - float(holder.get("started", 0)))
    except (TypeError, ValueError):
        age = "?"
    why_stale = staleness(holder)
    stale = f", stale: {why_stale}" if why_stale else ""
    if why_stale is None and holder.get("host") != socket.gethostname():
        stale = _other_host_words(holder)
    group = orphan(holder) if why_stale else None
    if group is not None:
        stale += (f"; its step {holder.get('step', '?')!s} is still running (process group {group}): "
                  "breaking the lock can kill it (--kill-orphan)")
    elif holder.get("step") and holder.get("step_host", "local") != "local":
        group = f" (process group {holder['step_pgid']} there)" if holder.get("step_pgid") else ""
        stale += f"; its step {holder['step']!s} ran on host {holder['step_host']!s}{group}: not checked from here"
    why = f" ({holder['reason']})" if holder.get("reason") else ""
    return visible(f"held by {holder.get('login', '?')}@{holder.get('host', '?')} (pid {holder.get('pid', '?')}) "
                   f"running {holder.get('action', '?')}{' ' + params if params else ''} for {age}{why}{stale}")


def stop_orphan(pgid: int, start: object = None) -> bool:
    """SIGTERM the orphan's group, SIGKILL what is left after ORPHAN_GRACE; True when it is gone."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return not group_alive(pgid, start)
    deadline = time.monotonic() + ORPHAN_GRACE
    while time.monotonic() < deadline and group_alive(pgid, start):
        time.sleep(0.05)
    if group_alive(pgid, start):
        kill_group(pgid)
        time.sleep(0.1)
    return not group_alive(pgid, start)


def note_step(lock: ActionLock, step: str | None, step_host: str = "local", pgid: int | None = None) -> bool:
    """Write the running step (and its process group) into our lock, or clear it (step None); atomic
    (a new file renamed over ours). False when the lock is no longer ours (left alone)."""
    holder = {k: v for k, v in lock.holder.items() if k not in STEP_FIELDS}
    if step is not None:
        holder.update(step=step, step_host=step_host)
        if pgid is not None:  # a remote group's start time is not ours to read
            holder.update(step_pgid=pgid, step_pgid_start=process_start(pgid) if step_host == "local" else None)
    try:
        current = read_holder(lock.path)
    except LockError:
        return False
    if current is None or current.get("token") != lock.holder.get("token"):
        return False
    fresh = lock.path.with_name(f"{lock.path.name}.{os.getpid()}-{secrets.token_hex(4)}")
    try:
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, (json.dumps(holder, sort_keys=True, separators=(",", ":")) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(fresh, lock.path)
    except OSError:  # a full disk: the lock stays as it was (still ours); the step is not held up for it
        with contextlib.suppress(FileNotFoundError):  # never created, or already renamed into place
            os.unlink(fresh)
        return False
    lock.holder = holder
    return True


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


def break_stale(path: Path, reason: str, kill_orphan: bool = False) -> dict:
    """Remove a stale lock (never a live one); the holder it had, for the ledger record (with
    `orphan_killed`: the step's process group ended first). A step still running in its group refuses
    the break unless `kill_orphan`. The file is renamed aside first, so two operators breaking it at
    once cannot remove a fresh lock taken meanwhile."""
    if not reason.strip():
        raise LockError("breaking a lock needs a reason (it is recorded in the ledger)")
    holder = read_holder(path)
    if holder is None:
        return {}
    if not is_stale(holder):
        raise LockError(f"action lock {describe(holder, path)}; it is not stale and cannot be broken", holder)
    group = orphan(holder)
    if group is not None and not kill_orphan:
        raise LockError(f"action lock {describe(holder, path)}; not broken while it runs", holder, True)
    if group is not None:
        if not stop_orphan(group, holder.get("step_pgid_start")):
            raise LockError(f"action lock {describe(holder, path)}; its process group {group} could not be "
                            "killed (another user's?): not broken", holder, True)
        holder = {**holder, "orphan_killed": group}
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
