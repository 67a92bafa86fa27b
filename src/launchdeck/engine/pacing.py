"""Keep measurements honest when many probes share one loop.

`Gate`: at most a few collections are in their busy phase at once, so a fast target's latency is
not the CPU time of 200 other requests started in the same instant. Waiting at the gate happens
before the probe's clock starts. A collection still running after `lease` seconds gives its slot
back: it is waiting on the network (a hung target), not using the loop, and must not hold up the
rest of the cycle.

`LagMonitor`: the engine's knowledge of its own stalls. A ticker sleeps `tick` seconds and records
how late it woke; a sample taken across a stall longer than `STALL` is re-taken, not judged.
"""

from __future__ import annotations

import asyncio
import gc
import time
from contextlib import asynccontextmanager
from typing import AsyncIterator

SLOTS = 4  # on 2 cores: 200 loopback targets read a median of 1-2 ms in check (bench/many_targets.py)
LEASE = 0.02  # s: a healthy loopback answer takes a few ms; past this a collection is waiting, not working
STALL = 0.025  # s: a loop this late means a latency sampled across it is not the target's
SHARE = 0.1  # of a sample's duration the engine may have been away without a re-take
TICK = 0.005  # s, only while a sample is in flight
JITTER = 0.002  # s a tick may wake late on a calm loop (timer resolution): not lateness


class Gate:
    def __init__(self, slots: int = SLOTS, lease: float = LEASE) -> None:
        self._slots = asyncio.Semaphore(slots)
        self.lease = lease

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self._slots.acquire()
        held = True

        def give_back() -> None:
            nonlocal held
            if held:
                held = False
                self._slots.release()

        handle = asyncio.get_running_loop().call_later(self.lease, give_back)
        try:
            yield
        finally:
            handle.cancel()
            give_back()


class Window:
    """What the loop went through while one sample was taken."""

    def __init__(self, monitor: LagMonitor) -> None:
        self.monitor = monitor
        self.start = time.monotonic()
        self.late_at_start = monitor.lateness()

    def stalled(self, share: float = SHARE) -> bool:
        """Whether the engine was away long enough to change what the sample says: its ticks woke
        late in sum (a busy UI thread holding the GIL, a blocking call) or a garbage collection
        paused every thread, for more than `stall` and more than `share` of the sample's duration
        (a 650 ms answer is still a 650 ms answer when 30 ms of it were the UI's)."""
        monitor, end = self.monitor, time.monotonic()
        late = monitor.lateness() - self.late_at_start
        paused = sum(max(0.0, min(e, end) - max(s, self.start)) for s, e in list(monitor.stalls))
        return max(late, paused) > max(monitor.stall, share * (end - self.start))


class LagMonitor:
    """Measures how late the loop it runs on wakes, and records garbage-collection pauses.

    The ticker runs only while a sample is being taken (`watching`), so an idle engine wakes for
    nothing; a short tick sees both one long stall and many small GIL hand-offs that add up."""

    def __init__(self, tick: float = TICK, stall: float = STALL, kept: int = 256) -> None:
        self.tick = tick
        self.stall = stall
        # collection pauses longer than `stall`. A plain list: the gc callback appends from whichever thread
        # collects, and copying a deque while that happens raised "deque mutated during iteration"
        self.stalls: list[tuple[float, float]] = []
        self._kept = kept
        self.late_total = 0.0  # s the ticks woke late, in sum, since the engine started
        self._watching = 0
        self._ticker: asyncio.Task | None = None
        self._collecting: float | None = None
        self._due: float | None = None  # when the running tick should wake

    @asynccontextmanager
    async def watching(self) -> AsyncIterator[Window]:
        self._watching += 1
        if self._ticker is None or self._ticker.done():
            self._due = time.monotonic() + self.tick  # due from now, even before the task first runs
            self._ticker = asyncio.get_running_loop().create_task(self._run(), name="lag ticker")
        try:
            yield Window(self)
        finally:
            self._watching -= 1

    async def _run(self) -> None:
        while self._watching and self._due is not None:
            await asyncio.sleep(max(0.0, self._due - time.monotonic()))
            now = time.monotonic()
            self.late_total += max(0.0, now - self._due - JITTER)
            self._due = now + self.tick
        self._due = None

    def lateness(self) -> float:
        """Seconds the ticks woke late in sum, the tick now overdue included: a tick whose timer has
        fired but whose task has not run yet is late all the same."""
        due = self._due
        return self.late_total + (max(0.0, time.monotonic() - due - JITTER) if due is not None else 0.0)

    def watch_collections(self) -> None:
        """A full garbage collection stops every thread, the engine's too (300-400 ms measured while
        the UI built a 120-item screen): each pause longer than `stall` counts as a stall."""
        if self._on_collection not in gc.callbacks:
            gc.callbacks.append(self._on_collection)

    def _on_collection(self, phase: str, _info: dict) -> None:
        if phase == "start":
            self._collecting = time.monotonic()
        elif self._collecting is not None:
            started, self._collecting = self._collecting, None
            if time.monotonic() - started > self.stall:
                self.stalls.append((started, time.monotonic()))  # append and del are atomic
                if len(self.stalls) > self._kept:
                    del self.stalls[:-self._kept]

    def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self._on_collection in gc.callbacks:
            gc.callbacks.remove(self._on_collection)
