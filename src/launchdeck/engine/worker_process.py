"""The parent's side of the engine's collecting process (engine/worker.py): start it, tell it to go or
poll now, hand what it collected to the Engine, and notice when it dies.

A child that dies is never a frozen calm screen: the Engine is told (a ProblemNotice), every row
goes unknown saying why, and a new child is started after a pause that grows while children keep
dying (1 s, 2 s, 4 s ... 30 s). Nothing is left behind: the child is reaped on every path (no
zombie), and both ends of the pipe and the file holding the child's stderr are closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

import launchdeck
from launchdeck.core.config import Config
from launchdeck.engine.worker_channel import Channel, reading_from_wire

log = logging.getLogger("launchdeck.engine")
STOP_GRACE = 1.5  # s the child has to close its probes once told to stop; then it is killed
RESTART_FIRST = 1.0  # s before a dead child is replaced, doubling while children keep dying
RESTART_MOST = 30.0
HEALTHY_AFTER = 60.0  # s a child must have lived for the next death to start the pauses over
STDERR_KEPT = 2000  # characters of a dead child's stderr kept for the problem's text


class Receiver(Protocol):
    """The Engine's side: what the child collected, judged and kept there as in thread mode."""

    def collected(self, key: tuple[str, str], readings: list, events: list[dict]) -> None: ...

    def backfilled(self, target: str, points: tuple) -> None: ...

    def problem(self, title: str, text: str, severity: str = "error") -> None: ...

    def collection_lost(self, why: str) -> None: ...


class WorkerProcess:
    """One child at a time, restarted when it dies; run() until cancelled, then close()."""

    def __init__(self, config: Config, receiver: Receiver, jitter: float) -> None:
        self.config = config
        self.receiver = receiver
        self.jitter = jitter
        self.released = False
        self.proc: subprocess.Popen | None = None
        self.pid: int | None = None  # of the running child (tests and benches look at it)
        self.started_children = 0
        self._channel: Channel | None = None
        self._stderr: Any = None
        self._closing = False
        self._last_words = ""  # the end of a dead child's stderr

    # ------------------------------------------------------------------ what the Engine calls
    async def run(self, hold: bool) -> None:
        """Start a child and read from it; when it dies, tell the Engine and start another."""
        pause = RESTART_FIRST
        while not self._closing:
            began = time.monotonic()
            try:
                await self._start(hold and not self.released)
                why = await self._read()
            except OSError as error:  # no process could be started (fds, memory): said, and tried again
                await self._reap(0.0)
                why = f"could not be started: {error}"
            if self._closing:
                return
            self.receiver.collection_lost(why)
            pause = RESTART_FIRST if time.monotonic() - began > HEALTHY_AFTER else pause
            await asyncio.sleep(pause)
            pause = min(pause * 2, RESTART_MOST)

    async def release(self) -> None:
        self.released = True
        await self._tell("go")

    async def refresh(self) -> None:
        await self._tell("refresh")

    async def close(self) -> None:
        """Tell the child to stop, give it STOP_GRACE to close its probes, then kill it; reap it and
        close the pipe and its stderr file (called on the Engine's loop as the Engine stops)."""
        self._closing = True
        await self._tell("stop")
        await self._reap(STOP_GRACE)

    # ------------------------------------------------------------------ the child
    async def _start(self, hold: bool) -> None:
        ours, theirs = socket.socketpair()
        self._stderr = tempfile.TemporaryFile()
        source = str(Path(launchdeck.__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([source, *filter(None, [env.get("PYTHONPATH")])])  # this very code
        try:
            # a new session: the terminal's Ctrl-C or hang-up reaches the parent, which decides; an
            # exec right after the fork (no Python runs in between), so this thread-running process is safe
            self.proc = subprocess.Popen([sys.executable, "-m", "launchdeck.engine.worker", str(theirs.fileno()),
                                          str(os.getpid())], pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=self._stderr, env=env, close_fds=True,
                                         start_new_session=True)
        finally:
            theirs.close()
        self.pid = self.proc.pid
        self.started_children += 1
        self._channel = Channel(ours)
        await self._channel.send("start", self.config, hold, self.jitter)

    async def _read(self) -> str:
        """Hand over everything the child sends until it is gone; why it went, in words."""
        channel, receiver = self._channel, self.receiver
        while (message := await channel.receive()) is not None:
            kind = message[0]
            if kind == "collected":
                for key, readings, events in message[1]:
                    receiver.collected(tuple(key), [reading_from_wire(r) for r in readings], events)
            elif kind == "backfilled":
                receiver.backfilled(message[1], message[2])
            elif kind == "problem":
                receiver.problem(*message[1:])
            elif kind == "log":
                log.log(message[1], "engine process: %s", message[2])
        code = await self._reap(STOP_GRACE)
        return self._why(code)

    def _why(self, code: int | None) -> str:
        if code is None:
            said = "stopped answering"
        elif code < 0:
            try:
                said = f"killed by {signal.Signals(-code).name}"
            except ValueError:  # a signal number Python has no name for
                said = f"killed by signal {-code}"
        else:
            said = f"exited with code {code}"
        return f"{said}{self._last_words}"

    async def _reap(self, grace: float) -> int | None:
        """Wait up to `grace` for the child to end, then kill it; always waited for (no zombie)."""
        proc, code = self.proc, None
        if proc is not None:
            deadline = time.monotonic() + grace
            while (code := proc.poll()) is None and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            if code is None:
                with contextlib.suppress(ProcessLookupError):  # it ended in between: waited for below
                    proc.kill()
                code = proc.wait()
        self._last_words = self._stderr_tail()
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self.proc = None
        self.pid = None
        return code

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        with contextlib.suppress(OSError):  # best effort: the exit code alone is still said
            self._stderr.seek(0, os.SEEK_END)
            self._stderr.seek(max(0, self._stderr.tell() - STDERR_KEPT))
            lines = self._stderr.read().decode(errors="replace").strip().splitlines()
            return f": {lines[-1]}" if lines else ""
        return ""

    async def _tell(self, *message: Any) -> None:
        if self._channel is not None:
            with contextlib.suppress(OSError):  # the child is gone: _read sees the end of file and says so
                await self._channel.send(*message)
