"""Run one step on a [[hosts]] entry over the verified connections of run/ssh.py, and lock that host.

The connection is `Connections.get` (known_hosts checked, unknown or changed keys refused with the
fingerprint); nothing here relaxes it. The command is `shlex.join`ed for the remote shell, so each
argv word, parameters included, is one literal argument there. As in `Connections.run`, the remote
shell prints its pid first; a timeout or a cancel kills that process group over a second channel
(OpenSSH ignores signal requests for root and leaves a command running when its channel closes).
Output is read as bytes and decoded per line with errors="replace" (never fatal).

The host lock is a directory, `/tmp/launchdeck-action.lock`, made with `mkdir` (atomic on POSIX),
holding one line of JSON about its holder. It is stale when the holder's deadline has passed (the
holder wrote its own: start + every step's timeout + the watch window + a margin) or when the
holder ran on this machine and its pid is gone; a stale one is broken only with a reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from launchdeck.actions.local import CHUNK, DRAIN, StepResult, finished
from launchdeck.actions.output import ActionLog, LineStream
from launchdeck.core.plain import visible
from launchdeck.run.ssh import PID_MARKER, RemoteError, _kill

if TYPE_CHECKING:
    from launchdeck.core.config import HostConfig
    from launchdeck.run.ssh import Connections

REMOTE_LOCK_DIR = "/tmp/launchdeck-action.lock"
LOCK_TIMEOUT = 15.0  # s for a lock or unlock command on a host
_PID_LINE = re.compile(re.escape(PID_MARKER).encode() + rb"(\d+)\n?")
_ACQUIRE = ('umask 077; if mkdir -- "$1" 2>/dev/null; then printf "%s\\n" "$2" > "$1/holder" && echo acquired; '
            'else cat -- "$1/holder" 2>/dev/null; exit 3; fi')
# removes the lock only while it still holds the holder line we know (ours, or the stale one we read)
_RELEASE = ('[ -d "$1" ] || exit 0; [ "$(cat -- "$1/holder" 2>/dev/null)" = "$2" ] || exit 4; '
            'rm -f -- "$1/holder" && rmdir -- "$1"')


def remote_command(argv: list[str], env: dict[str, str] | None) -> str:
    """The remote shell's command line: our pid first, then the argv, every word quoted."""
    words = ["env", *[f"{name}={value}" for name, value in env.items()], *argv] if env else argv
    return f"echo {PID_MARKER}$$; {shlex.join(words)}"


async def _read_pid(proc: Any, stream: LineStream) -> int | None:
    """The pid our prefix printed; whatever the remote rc files printed before it goes to the log."""
    while line := await proc.stdout.readline():
        found = _PID_LINE.fullmatch(line)
        if found:
            return int(found[1])
        stream.feed(line)
    return None


async def _pump(reader: Any, stream: LineStream) -> None:
    while chunk := await reader.read(CHUNK):
        stream.feed(chunk)
    stream.flush()


async def run_remote_step(connections: Connections, host: HostConfig, argv: list[str], log: ActionLog, *,
                          timeout: float, cancel: asyncio.Event, env: dict[str, str] | None = None,
                          on_spawn: Callable[[int], object] | None = None) -> StepResult:
    """Run argv on `host`, streamed into `log`. A host that cannot be reached or verified is an "error"
    result whose message says why (RemoteError's words: UNKNOWN host, CHANGED key, permission denied).
    `on_spawn(pgid)` is told the remote process group once its shell has printed it (the action lock
    records it)."""
    import asyncssh

    started = time.monotonic()
    what = f"`{argv[0]}` on {host.name}"
    try:
        conn = await connections.get(host)
        proc = await conn.create_process(remote_command(argv, env), encoding=None, stdin=asyncssh.DEVNULL)
    except RemoteError as error:
        return StepResult("error", None, time.monotonic() - started, str(error))
    except (asyncssh.Error, OSError) as error:
        return StepResult("error", None, time.monotonic() - started,
                          f"{what}: cannot start: {getattr(error, 'reason', None) or error}")
    out, err = log.stream("out"), log.stream("err")
    ending = "done"
    cancelled = asyncio.ensure_future(cancel.wait())
    body = asyncio.ensure_future(_body(proc, out, err, on_spawn))
    try:
        done, _ = await asyncio.wait({body, cancelled}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if body in done:
            body.result()
        else:
            ending = "cancelled" if cancelled in done else "timeout"
            body.cancel()
            outcome = await _kill(conn, proc, _known_pid(proc))
            log.note(f"{what}: {ending}; remote process group {outcome}")
    except asyncio.CancelledError:
        await asyncio.shield(_kill(conn, proc, _known_pid(proc)))
        raise
    except (asyncssh.Error, OSError) as error:
        proc.close()
        return StepResult("error", None, time.monotonic() - started,
                          f"{what}: connection lost: {getattr(error, 'reason', None) or error}")
    finally:
        cancelled.cancel()
    took = time.monotonic() - started
    if ending == "timeout":
        return StepResult("timeout", None, took, f"{what} still running after {timeout:g}s; "
                                                 "its remote process group was killed")
    if ending == "cancelled":
        return StepResult("cancelled", None, took, f"{what} cancelled; its remote process group was killed")
    if proc.exit_status is None and proc.exit_signal is None:
        return StepResult("error", None, took, f"{what} ended without an exit status (connection lost?)")
    signal_name = proc.exit_signal[0] if proc.exit_signal else None
    return finished(proc.exit_status, started, what, signal_name)


def _known_pid(proc: Any) -> int | None:
    return getattr(proc, "_launchdeck_pid", None)


async def _body(proc: Any, out: LineStream, err: LineStream,
                on_spawn: Callable[[int], object] | None = None) -> int | None:
    pid = await _read_pid(proc, out)
    proc._launchdeck_pid = pid  # for the kill, if a timeout comes while the output still flows
    if pid is not None and on_spawn is not None:
        on_spawn(pid)  # the remote shell leads its session under sshd: its pid is the group's id
    await asyncio.gather(_pump(proc.stdout, out), _pump(proc.stderr, err))
    with contextlib.suppress(TimeoutError):  # the output is read whole; a slow close costs no more than DRAIN
        async with asyncio.timeout(DRAIN):
            await proc.wait_closed()
    return pid


# ---------------------------------------------------------------- host lock

@dataclass(frozen=True)
class HostLockHeld:
    """Someone else's lock on a host: the holder line as they wrote it, and whether it is stale."""

    host: str
    holder: dict
    stale: bool
    raw: str

    def describe(self, now: float | None = None) -> str:
        age = (now or time.time()) - float(self.holder.get("started", 0) or 0)
        who = f"{self.holder.get('login', '?')}@{self.holder.get('host', '?')} (pid {self.holder.get('pid', '?')})"
        state = "stale, " if self.stale else ""
        return visible(f"host {self.host} is locked by {who} running {self.holder.get('action', '?')}, "
                       f"{state}for {age:.0f}s ({REMOTE_LOCK_DIR})")


def _holder_stale(holder: dict, hostname: str, pid_alive) -> bool:
    try:
        if time.time() > float(holder.get("deadline", 0)):
            return True
    except (TypeError, ValueError):
        return True  # a lock line we cannot read has no deadline we could wait for
    return holder.get("host") == hostname and not pid_alive(holder.get("pid"), holder.get("pid_start"))


async def acquire_host_lock(connections: Connections, host: HostConfig, line: str, hostname: str,
                            pid_alive) -> HostLockHeld | None:
    """Take the host's lock with our holder `line` (one line of JSON); None when taken, else who holds it."""
    run = await connections.run(host, ["sh", "-c", _ACQUIRE, "launchdeck-lock", REMOTE_LOCK_DIR, line],
                                timeout=LOCK_TIMEOUT)
    if run.exit_status == 0 and run.stdout.strip().endswith("acquired"):
        return None
    if run.exit_status != 3:
        raise RemoteError(host, f"cannot take the action lock {REMOTE_LOCK_DIR}: exit {run.exit_status} "
                                f"{visible(run.stderr.strip()[-200:])}", "lock")
    raw = run.stdout.strip()
    try:
        holder = json.loads(raw)
    except ValueError:
        holder = {}
    holder = holder if isinstance(holder, dict) else {}
    return HostLockHeld(host.name, holder, _holder_stale(holder, hostname, pid_alive), raw)


async def release_host_lock(connections: Connections, host: HostConfig, line: str) -> bool:
    """Remove the host's lock if it still holds `line`; False when it holds another (never removed)."""
    run = await connections.run(host, ["sh", "-c", _RELEASE, "launchdeck-unlock", REMOTE_LOCK_DIR, line],
                                timeout=LOCK_TIMEOUT)
    return run.exit_status == 0
