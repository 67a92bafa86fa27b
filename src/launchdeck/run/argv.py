"""Run an argv here or on a [[hosts]] entry, the same way: no shell of ours, a timeout that kills.

Locally the argv is executed directly (never through a shell) in its own session, and on a timeout
the whole process group is killed and reaped. Remotely `Connections.run` shell-quotes every word,
so a value from the config or the screen stays one literal argument on the host too.
A program that is not installed comes back as exit 127 on both sides, which is what a remote
shell says, so callers have one way to tell "not installed" from "failed".
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
from typing import TYPE_CHECKING

from launchdeck.core.redact import mask_passwords
from launchdeck.run.ssh import CompletedRun

if TYPE_CHECKING:
    from launchdeck.core.config import HostConfig
    from launchdeck.run.ssh import Connections

NOT_FOUND = 127
LINE_LIMIT = 120  # characters of the last line shown in a reason

_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def last_line(output: bytes) -> str:
    """The last non-empty line, printable and short: escape sequences would repaint the dashboard."""
    text = _ESCAPES.sub("", output.decode("utf-8", "replace"))
    for line in reversed(re.split(r"[\r\n]+", text)):
        line = _CONTROL.sub("", line).strip()
        if line:
            line = mask_passwords(line)
            return line if len(line) <= LINE_LIMIT else line[:LINE_LIMIT - 1] + "…"
    return ""


def kill_group(pgid: int) -> bool:
    """SIGKILL every process left in the group; False when the group was already empty."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:  # nobody left: the normal case after a clean exit
        return False
    except PermissionError:  # a member changed user (setuid): it is not ours to kill any more
        return False
    return True


async def run_local(argv: list[str], timeout: float) -> CompletedRun:
    """argv with stdin closed; TimeoutError (after killing its process group) past `timeout` seconds."""
    try:
        process = await asyncio.create_subprocess_exec(*argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                       stderr=subprocess.PIPE, start_new_session=True)
    except FileNotFoundError:
        return CompletedRun(NOT_FOUND, "", f"{argv[0]}: command not found")
    except PermissionError:
        return CompletedRun(126, "", f"{argv[0]}: permission denied")
    try:
        async with asyncio.timeout(timeout):
            stdout, stderr = await process.communicate()
    except TimeoutError:
        raise TimeoutError(f"`{argv[0]}` still running after {timeout:g}s; killed") from None
    finally:
        kill_group(process.pid)  # a timeout's whole group, or what a finished command left behind
        if process.returncode is None:
            await process.wait()
    code = process.returncode
    return CompletedRun(code if code >= 0 else -1, stdout.decode("utf-8", "replace"),
                        stderr.decode("utf-8", "replace"), None if code >= 0 else f"signal {-code}")


async def run_argv(argv: list[str], timeout: float, host: HostConfig | None = None,
                   connections: Connections | None = None) -> CompletedRun:
    """Here when host is None, else over SSH through the shared pool (RemoteError when SSH fails)."""
    if host is None:
        return await run_local(argv, timeout)
    if connections is None:
        raise ValueError(f"{host.name}: a remote command needs the shared SSH connections")
    return await connections.run(host, argv, timeout)


def last_words(run: CompletedRun, drop: str = "") -> str:
    """The last line of stderr (else stdout), where a command says what went wrong: printable, short,
    passwords masked (the command probe's `last_line`). `drop` (a long path the tool repeats) is
    removed before the line is cut short, so the words after it survive."""
    text = run.stderr if run.stderr.strip() else run.stdout
    return last_line((text.replace(drop, "") if drop else text).encode()) or f"exit {run.exit_status}"
