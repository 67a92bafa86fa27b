"""The engine's collecting process: `python -m launchdeck.engine.worker FD PARENT_PID`.

Why a process: in one process the probes' own CPU (200 HTTP requests are ~0.25 s of it) and the UI
drawing 200 rows take turns on one GIL, so a key pressed during a cycle waited for the requests and
the cycle waited for the drawing. Here the probes run the same Collection the engine's thread runs
(engine/polling.py: preparation, gate, lag monitor, re-takes, intervals) with their own GIL, and
every stamped reading goes back over the pipe (engine/worker_channel.py) to the parent's Engine,
which judges and keeps it as it always has.

It lives only as long as its parent: the pipe's end of file, PR_SET_PDEATHSIG (SIGTERM when the
parent dies, SIGKILL included) and SIGTERM all stop it; it is in a session of its own, so the
terminal's signals (a Ctrl-C, a vanished terminal's SIGHUP) reach only the parent, which decides.

Parent → child: ("start", config, hold, jitter), ("go",), ("refresh",), ("stop",).
Child → parent: ("ready",), ("collected", [(key, [reading], [event]), ...]), ("backfilled", target,
points), ("problem", title, text, severity), ("log", level, text).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
from typing import Any

from launchdeck.core.model import Reading, SystemClock
from launchdeck.core.redact import Scrubber
from launchdeck.engine.polling import Collection, Key
from launchdeck.engine.worker_channel import Channel, plain, reading_to_wire

log = logging.getLogger("launchdeck.engine")
STOP_GRACE = 1.5  # s for the probes to close once told to stop
PR_SET_PDEATHSIG = 1


class PipeOutlet:
    """What the Collection hands over, batched per loop turn: one frame for every reading that landed
    in the same turn, so 200 fast answers are a few frames, not 200 wake-ups of the parent."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self._collected: list[tuple] = []
        self._others: list[tuple] = []
        self._flushing = False
        self._sending: set[asyncio.Task] = set()  # held: the loop keeps only weak references to tasks

    def collected(self, key: Key, readings: list[Reading], events: list[dict]) -> None:
        self._collected.append((key, [reading_to_wire(r) for r in readings], plain(events)))
        self._schedule()

    def backfilled(self, target: str, points: tuple) -> None:
        self._others.append(("backfilled", target, plain(points)))
        self._schedule()

    def problem(self, title: str, text: str, severity: str = "error") -> None:
        self._others.append(("problem", title, text, severity))
        self._schedule()

    def log(self, level: int, text: str) -> None:
        self._others.append(("log", level, text))
        self._schedule()

    def _schedule(self) -> None:
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flushing = False
        collected, others, self._collected, self._others = self._collected, self._others, [], []
        task = asyncio.get_running_loop().create_task(self._send(collected, others), name="send")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, collected: list[tuple], others: list[tuple]) -> None:
        with contextlib.suppress(OSError):  # the parent is gone: the reader below sees the end of file and stops
            if collected:
                await self.channel.send("collected", collected)
            for message in others:
                await self.channel.send(*message)


class ForwardLogs(logging.Handler):
    """Warnings of the child's probes reach the parent's `launchdeck.engine` logger."""

    def __init__(self, outlet: PipeOutlet) -> None:
        super().__init__(logging.WARNING)
        self.outlet = outlet

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(RuntimeError):  # no running loop (interpreter shutting down): nothing to send on
            self.outlet.log(record.levelno, self.format(record))


async def serve(channel: Channel, parent: int) -> None:
    start = await channel.receive()
    if start is None or start[0] != "start":
        return
    _, config, hold, jitter = start
    from launchdeck.probes import build_probes, close_probes

    scrub = Scrubber(config.secrets)
    outlet = PipeOutlet(channel)
    logging.getLogger("launchdeck").addHandler(ForwardLogs(outlet))
    probes = build_probes(config)
    collection = Collection(probes, SystemClock(), scrub, outlet, jitter=jitter)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    tasks: set[asyncio.Task] = set()
    wakes: list[asyncio.Event] = []

    def spawn(coroutine: Any, name: str, probe: Any = None) -> None:
        task = loop.create_task(coroutine, name=name)
        tasks.add(task)

        def done(finished: asyncio.Task) -> None:  # as Engine._spawn: told, and the row goes unknown
            tasks.discard(finished)
            if finished.cancelled() or finished.exception() is None:
                return
            error = finished.exception()
            outlet.problem(f"{name} stopped", scrub(f"{type(error).__name__}: {error}"))
            if probe is not None:
                outlet.collected((probe.panel, probe.target), [collection.stopped(probe, error)], [])

        task.add_done_callback(done)

    async def listen() -> None:
        while (message := await channel.receive()) is not None and message[0] != "stop":
            if message[0] == "go":
                go.set()
            elif message[0] == "refresh":
                for wake in wakes:
                    wake.set()
        stopping.set()  # told to stop, or the parent is gone (end of file)

    go = asyncio.Event()
    if not hold:
        go.set()
    listener = loop.create_task(listen(), name="listen")
    collection.lag.watch_collections()
    await collection.prepare()
    await channel.send("ready")
    await _first(go.wait(), stopping.wait())
    for probe in probes if not stopping.is_set() else ():
        wake = asyncio.Event()
        wakes.append(wake)
        spawn(collection.poll(probe, wake), f"poller {probe.panel}/{probe.target}", probe)
        if hasattr(probe, "history"):
            spawn(collection.backfill(probe), f"backfill {probe.target}")
    while not stopping.is_set():  # an orphan whose parent died before PR_SET_PDEATHSIG was set stops too
        await _first(stopping.wait(), asyncio.sleep(1.0))
        if os.getppid() != parent:
            stopping.set()
    collection.lag.close()
    for task in [*tasks, listener]:
        task.cancel()
    await asyncio.wait([*tasks, listener], timeout=STOP_GRACE)
    with contextlib.suppress(TimeoutError):  # a dead SSH peer must not keep the process alive: exit anyway
        async with asyncio.timeout(STOP_GRACE):
            for failure in await close_probes(probes):
                log.warning(scrub(failure))


async def _first(*waits: Any) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()


def die_with_parent() -> None:
    """SIGTERM when the parent dies (Linux): also a SIGKILL of the parent ends this process."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the pipe's end of file still stops it
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def main(argv: list[str]) -> int:
    fd, parent = int(argv[0]), int(argv[1])
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it is in another session anyway
    if os.getppid() != parent:  # the parent died before PR_SET_PDEATHSIG was in place
        return 1
    sock = socket.socket(fileno=fd)
    channel = Channel(sock)
    try:
        asyncio.run(serve(channel, parent))
    finally:
        channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
