"""Run one step here: no shell, its own process group, streamed, killed whole on timeout or cancel.

`start_new_session=True` makes the step a process-group leader, so a timeout or a cancel reaches
its children too (a deploy script's `sleep`, a pipeline). The group gets SIGTERM, then SIGKILL after
a grace period; a cancelled asyncio task (Ctrl-C in `launchdeck act`) kills the group before the
cancel goes on, so nothing keeps running behind the operator's back.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from launchdeck.actions.output import ActionLog, LineStream
from launchdeck.core.pool import run_blocking
from launchdeck.run.argv import kill_group

GRACE = 2.0  # s between SIGTERM and SIGKILL of a step's group
DRAIN = 2.0  # s to read what is left after the step exited (a background child may hold the pipe)
CHUNK = 64 * 1024
STDIN_READ_TIMEOUT = 60.0  # s for one chunk of a file fed to a step's stdin
NOT_FOUND = 127


@dataclass(frozen=True)
class StepResult:
    """How one step ended. `outcome`: ok, failed, timeout, cancelled, not-found, error."""

    outcome: str
    exit_status: int | None
    duration: float
    message: str
    exit_signal: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def finished(code: int | None, started: float, what: str, signal_name: str | None = None) -> StepResult:
    """The result of a step that ran to its end (exit 0 is ok; 127 is "not found" as a shell says)."""
    took = time.monotonic() - started
    if signal_name is not None or code is None or code < 0:
        name = signal_name or (signal.Signals(-code).name if code is not None and code < 0 else "a signal")
        return StepResult("failed", code, took, f"{what} killed by {name}", name)
    if code == 0:
        return StepResult("ok", 0, took, f"{what} exited 0")
    if code == NOT_FOUND:
        return StepResult("not-found", code, took, f"{what}: command not found (exit 127)")
    return StepResult("failed", code, took, f"{what} exited {code}")


async def _pump(reader: asyncio.StreamReader | None, stream: LineStream) -> None:
    if reader is None:
        return
    while chunk := await reader.read(CHUNK):
        stream.feed(chunk)
    stream.flush()


async def _feed_stdin(process: asyncio.subprocess.Process, source: Path, gunzip: bool) -> None:
    """A file into the step's stdin, decompressed here (a `.sql.gz` into psql), never via a shell."""
    assert process.stdin is not None
    opener = gzip.open if gunzip else open
    try:
        with opener(source, "rb") as file:
            while chunk := await run_blocking(file.read, CHUNK, timeout=STDIN_READ_TIMEOUT):
                process.stdin.write(chunk)
                await process.stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the step stopped reading: its exit status says why
    finally:
        process.stdin.close()


async def _stop_group(pid: int) -> None:
    """SIGTERM the group, SIGKILL what is left after GRACE seconds."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + GRACE
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        await asyncio.sleep(0.05)
    kill_group(pid)


async def run_local_step(argv: list[str], log: ActionLog, *, timeout: float, cancel: asyncio.Event,
                         env: dict[str, str] | None = None, stdin: Path | None = None,
                         gunzip: bool = False, on_spawn: Callable[[int], object] | None = None) -> StepResult:
    """Run argv here with stdout and stderr streamed into `log`; never raises for the command's sake.
    `on_spawn(pgid)` is told the step's process group as soon as it exists (the action lock records it)."""
    started = time.monotonic()
    what = f"`{argv[0]}`"
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True, env={**os.environ, **(env or {})}, limit=CHUNK)
    except FileNotFoundError:
        return StepResult("not-found", None, time.monotonic() - started, f"{what}: command not found")
    except PermissionError:
        return StepResult("error", None, time.monotonic() - started, f"{what}: permission denied")
    except OSError as error:
        return StepResult("error", None, time.monotonic() - started, f"{what}: cannot start: {error.strerror}")
    if on_spawn is not None:
        on_spawn(process.pid)  # start_new_session: the step leads its own group, pgid == pid
    pumps = [asyncio.ensure_future(_pump(process.stdout, log.stream("out"))),
             asyncio.ensure_future(_pump(process.stderr, log.stream("err")))]
    feeder = asyncio.ensure_future(_feed_stdin(process, stdin, gunzip)) if stdin else None
    exited = asyncio.ensure_future(process.wait())
    cancelled = asyncio.ensure_future(cancel.wait())
    ending = "done"
    try:
        done, _ = await asyncio.wait({exited, cancelled}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if exited not in done:
            ending = "cancelled" if cancelled in done else "timeout"
            await _stop_group(process.pid)
            await process.wait()
        else:
            await asyncio.wait(pumps, timeout=DRAIN)
    finally:
        cancelled.cancel()
        if process.returncode is None:  # our own task was cancelled (Ctrl-C): the group goes first
            kill_group(process.pid)
            await asyncio.shield(process.wait())
        for task in (*pumps, *([feeder] if feeder else [])):
            if not task.done():
                task.cancel()
    took = time.monotonic() - started
    if ending == "timeout":
        return StepResult("timeout", process.returncode, took, f"{what} still running after {timeout:g}s; "
                                                                 "its process group was killed")
    if ending == "cancelled":
        return StepResult("cancelled", process.returncode, took, f"{what} cancelled; its process group was killed")
    return finished(process.returncode, started, what)
