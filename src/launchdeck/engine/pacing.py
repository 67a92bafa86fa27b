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
import time
from collections import deque
from contextlib import asynccontextmanager
from typing import AsyncIterator

SLOTS = 4  # measured on 2 cores: 200 loopback targets read a median of ~5 ms (bench/many_targets.py)
LEASE = 0.05  # s: a healthy loopback answer takes a few ms; past this a collection is waiting, not working
STALL = 0.05  # s: a loop this late means a latency sampled across it is not the target's
TICK = 0.05


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


class LagMonitor:
    """Records stalls of the loop it runs on as (start, end) in time.monotonic() seconds."""

    def __init__(self, tick: float = TICK, stall: float = STALL, kept: int = 256) -> None:
        self.tick = tick
        self.stall = stall
        self.stalls: deque[tuple[float, float]] = deque(maxlen=kept)
        self.worst = 0.0  # the longest stall seen, for the engine's own status

    async def run(self) -> None:
        while True:
            due = time.monotonic() + self.tick
            await asyncio.sleep(self.tick)
            late = time.monotonic() - due
            if late > self.stall:
                self.stalls.append((due, due + late))
                self.worst = max(self.worst, late)

    async def stalled_during(self, start: float, end: float) -> bool:
        """Whether the loop stalled past `stall` inside [start, end]. Yields once first, so a ticker
        that was due during the sample has run and recorded what it saw."""
        await asyncio.sleep(0)
        late_now = time.monotonic() - end
        if late_now > self.stall:  # the stall is still going on as we look
            return True
        return any(s < end and e > start for s, e in self.stalls)
