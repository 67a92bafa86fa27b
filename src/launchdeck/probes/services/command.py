"""A local command as a health check: exit 0 is healthy; anything else is crit with its last words.

The argv from the config is executed as-is, never through a shell, so nothing in it is expanded.
The command runs in its own session (process group): on a timeout the whole group is killed and
the child reaped, so a hung check cannot leave a `sleep 30` (or its grandchildren) behind.

Output goes to a pipe we own rather than asyncio's PIPE: asyncio's `Process.wait()` also waits for
its pipes to close, and a grandchild left in the background would keep them open and hang the poll.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from typing import Any

from launchdeck.core.config import CommandService
from launchdeck.core.model import Outcome, Status
from launchdeck.core.units import format_latency
from launchdeck.probes.services.http import ServiceProbe, judge_latency
from launchdeck.run.argv import kill_group, last_line

OUTPUT_LIMIT = 4096  # bytes of stdout+stderr kept: the tail, where the error usually is
DRAIN_GRACE = 0.2  # seconds to collect output still in flight after the command exited



class _Tail(asyncio.Protocol):
    """Keeps the last OUTPUT_LIMIT bytes read from the pipe; `finished` resolves at end of file."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.data = bytearray()
        self.finished: asyncio.Future[None] = loop.create_future()

    def data_received(self, data: bytes) -> None:
        self.data += data
        del self.data[:-OUTPUT_LIMIT]

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.finished.done():
            self.finished.set_result(None)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit {code}"


class CommandProbe(ServiceProbe):
    """Run argv without a shell; exit 0 → ok (latency thresholds apply); else crit with the last line."""

    def __init__(self, spec: CommandService, default_interval: float) -> None:
        super().__init__(spec, default_interval)

    async def collect(self) -> Outcome:
        loop = asyncio.get_running_loop()
        program = self.spec.argv[0]
        read_fd, write_fd = os.pipe()
        started = time.perf_counter()
        try:
            process = await asyncio.create_subprocess_exec(
                *self.spec.argv, stdin=subprocess.DEVNULL, stdout=write_fd, stderr=write_fd,
                start_new_session=True)
        except FileNotFoundError:
            os.close(read_fd)
            return Outcome(Status.CRIT, f"command not found: {program}")
        except PermissionError:
            os.close(read_fd)
            return Outcome(Status.CRIT, f"permission denied: {program}")
        except OSError as error:
            os.close(read_fd)
            return Outcome(Status.CRIT, f"cannot run {program}: {(error.strerror or str(error)).lower()}")
        finally:
            os.close(write_fd)  # the child has its copy; ours would keep the pipe open forever
        reader = os.fdopen(read_fd, "rb", buffering=0)
        pipe: Any = None
        try:
            pipe, tail = await loop.connect_read_pipe(lambda: _Tail(loop), reader)
            code = await process.wait()
            latency = time.perf_counter() - started
            await asyncio.wait({tail.finished}, timeout=DRAIN_GRACE)
        finally:
            kill_group(process.pid)  # a timeout's whole group, or what a finished command left behind
            if process.returncode is None:
                await process.wait()  # reap it: no zombie, and the kill really happened
            (pipe or reader).close()
        return self.judge(code, latency, bytes(tail.data))

    def judge(self, code: int, latency: float, output: bytes) -> Outcome:
        line = last_line(output)
        values = {"exit_code": code, "latency_seconds": round(latency, 6), "output": line}
        if code != 0:
            reason = describe_exit(code)
            return Outcome(Status.CRIT, f"{reason}: {line}" if line else reason, values)
        status, slow = judge_latency(latency, self.spec.latency_warn, self.spec.latency_crit)
        return Outcome(status, slow or f"exit 0 in {format_latency(latency)}", values)

    async def aclose(self) -> None:
        """Nothing outlives a poll: every process group is killed and reaped before collect returns."""
