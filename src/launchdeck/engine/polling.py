"""One collection of one probe under its own timeout, stamped as a Reading, and the Collection that
schedules them (gate, lag monitor, re-takes, intervals) on whichever loop runs the probes.

Every failure becomes data: an exception or a timeout inside a probe turns into a reading with
status `unknown` and a reason, so one hung target never stops the others (DESIGN rules 2, 3).
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any, Callable, Protocol

from launchdeck.core.model import Clock, Outcome, Reading, Status, SystemClock
from launchdeck.probes.base import Batch, Probe
from launchdeck.core.redact import Scrubber
from launchdeck.core.units import format_duration
from launchdeck.engine.pacing import SHARE, Gate, LagMonitor

log = logging.getLogger("launchdeck.engine")


async def collect_batch(probe: Probe, clock: Clock | None = None,
                        scrub: Callable[[str], str] | None = None) -> list[Reading]:
    """Like collect_once, but a probe returning a Batch yields one reading per target in it."""
    clock = clock or SystemClock()
    reading = await collect_once(probe, clock, scrub)
    batch = reading.values.get(_BATCH)
    if batch is None:
        return [reading]
    return [_stamp(probe.panel, target, outcome, reading, scrub or Scrubber()) for target, outcome in batch]


_BATCH = "__batch__"


def _stamp(panel: str, target: str, outcome: Outcome, like: Reading, scrub: Callable[[str], str]) -> Reading:
    return Reading(panel=panel, target=target, status=outcome.status, reason=scrub(outcome.reason),
                   values={k: scrub(v) if isinstance(v, str) else v for k, v in outcome.values.items()},
                   observed_at=like.observed_at, duration=like.duration)


async def collect_once(probe: Probe, clock: Clock | None = None, scrub: Callable[[str], str] | None = None) -> Reading:
    """Run one collection under the probe's timeout and stamp the result as a Reading."""
    clock = clock or SystemClock()
    scrub = scrub or Scrubber()
    started = clock.monotonic()
    try:
        async with asyncio.timeout(probe.timeout):
            outcome = await probe.collect()
    except TimeoutError:
        outcome = Outcome(Status.UNKNOWN, f"timeout after {format_duration(probe.timeout)}")
    except Exception as error:  # a probe bug or an unexpected library error is still a reading
        detail = str(error) or type(error).__name__
        outcome = Outcome(Status.UNKNOWN, f"probe error: {type(error).__name__}: {detail}")
    if isinstance(outcome, Batch):
        outcome = Outcome(Status.OK, "", {_BATCH: list(outcome)})
    return Reading(
        panel=probe.panel,
        target=probe.target,
        status=outcome.status,
        reason=scrub(outcome.reason),
        values={k: scrub(v) if isinstance(v, str) else v for k, v in outcome.values.items()},
        observed_at=clock.now(),
        duration=max(0.0, clock.monotonic() - started),
    )


# ---------------------------------------------------------------------------- the collection loop

RETAKES = 3  # re-takes of a sample after an engine stall; if every one stalls, the round is not judged
RETAKE_PAUSE = 0.05  # s before the first re-take, then 4x longer each time (0.05, 0.2, 0.8)
TIMEOUT_SHARE = 0.5  # of its timeout the engine may have been away before a timeout is re-taken
UNJUDGED_LIMIT = 3  # rounds in a row a target may go unjudged before its row says why

Key = tuple[str, str]


class Outlet(Protocol):
    """Where a Collection hands what it collected: the Engine itself (thread mode) or the pipe to the
    parent's Engine (engine/worker.py). Called on the collecting loop, in the order things happened."""

    def collected(self, key: Key, readings: list[Reading], events: list[dict]) -> None: ...

    def backfilled(self, target: str, points: tuple) -> None: ...

    def problem(self, title: str, text: str, severity: str = "error") -> None: ...


class Collection:
    """The probes' collection: preparation, the gate, the lag monitor, re-takes and poll intervals
    (engine/pacing.py). Nothing here judges or keeps a reading; it runs the same on the engine's
    thread and in the engine's own process, so both modes measure alike."""

    def __init__(self, probes: list[Probe], clock: Clock, scrub: Callable[[str], str], out: Outlet,
                 gate: Gate | None = None, jitter: float = 0.1) -> None:
        self.probes, self.clock, self.scrub, self.out = probes, clock, scrub, out
        self.lag = LagMonitor()
        self.retakes = 0  # samples re-taken because the engine stalled during them (benches report it)
        self.unjudged = 0  # rounds not judged because every re-take stalled too
        self._gate = gate
        self._jitter = jitter
        self._unjudged_in_a_row: dict[Key, int] = {}
        self._container_seen: dict[str, Any] = {}

    async def prepare(self) -> None:
        """Imports and clients built one probe at a time before any poll: a first poll must not be
        charged for another probe's 150 ms import on the same loop."""
        for probe in self.probes:
            prepare = getattr(probe, "prepare", None)
            if prepare is None:
                continue
            try:
                async with asyncio.timeout(max(probe.timeout, 5.0)):
                    await prepare()
            except Exception as error:  # its first poll will meet the same problem and show it on its row
                log.warning("%s/%s: prepare failed: %s", probe.panel, probe.target, self.scrub(str(error)))

    def gate(self) -> Gate:
        if self._gate is None:  # created on the loop that uses it
            self._gate = Gate()
        return self._gate

    async def collect(self, probe: Probe) -> None:
        """One sample, waited for at the gate, re-taken while the engine's own loop was stalled. When
        every re-take stalled too, nothing is judged this round (the last reading stands), unless
        that has happened UNJUDGED_LIMIT times in a row: then the row says so, as unknown."""
        for attempt in range(RETAKES + 1):
            async with self.gate().slot():
                async with self.lag.watching() as window:
                    readings = await collect_batch(probe, self.clock, self.scrub)
                    # a timeout stands unless the engine was away for half the time the target had;
                    # other samples matter only where the probe times the target itself (a latency)
                    timed_out = bool(readings) and readings[0].duration >= probe.timeout
                    if timed_out:
                        stalled = window.stalled(share=TIMEOUT_SHARE)
                    else:
                        stalled = getattr(probe, "measures_latency", False) and window.stalled(share=SHARE)
            if not stalled:
                break
            if attempt < RETAKES:
                self.retakes += 1
                await asyncio.sleep(RETAKE_PAUSE * 4 ** attempt)  # stalls come in bursts (a screen being built)
        key = (probe.panel, probe.target)
        if stalled:
            self.unjudged += 1
            missed = self._unjudged_in_a_row[key] = self._unjudged_in_a_row.get(key, 0) + 1
            if missed < UNJUDGED_LIMIT:
                return
            readings = [Reading(probe.panel, probe.target, Status.UNKNOWN,
                                f"not measured: launchdeck itself stalled on {missed * (RETAKES + 1)} tries",
                                {}, self.clock.now(), 0.0)]
        self._unjudged_in_a_row.pop(key, None)
        self.out.collected(key, readings, self._container_events(probe))

    async def once(self, probe: Probe, rate_gap: float) -> None:
        """`check`: one judged sample; a rate source (a /metrics scrape) is sampled `rate_gap` s earlier too."""
        for _ in range(getattr(probe, "samples_for_rates", 1) - 1):
            await collect_batch(probe, self.clock, self.scrub)  # not judged: it only starts the rate
            await asyncio.sleep(rate_gap)
        await self.collect(probe)

    async def poll(self, probe: Probe, wake: asyncio.Event) -> None:
        """collect → hand over → sleep(interval ± jitter), until cancelled; `wake` cuts a sleep short."""
        rng = random.Random()
        while True:
            await self.collect(probe)
            delay = probe.interval * (1 + rng.uniform(-self._jitter, self._jitter))
            try:
                await asyncio.wait_for(wake.wait(), timeout=delay)
            except TimeoutError:
                continue
            wake.clear()

    async def backfill(self, probe: Probe) -> None:
        """The last 30 minutes from the source, so sparklines are full at once (best effort)."""
        try:
            async with asyncio.timeout(max(probe.timeout * 3, 5.0)):
                points = await probe.history(1800)  # type: ignore[attr-defined]
        except Exception as error:  # shown, not raised: live polling goes on regardless
            self.out.problem(f"{probe.target}: no history to backfill", f"{type(error).__name__}: {error}", "warning")
            return
        self.out.backfilled(probe.target, tuple(points))

    def stopped(self, probe: Probe, error: BaseException) -> Reading:
        """The row of a poller that died: unknown, saying why, never frozen on its last good reading."""
        reason = self.scrub(f"poller stopped: {type(error).__name__}: {error}")
        return Reading(probe.panel, probe.target, Status.UNKNOWN, reason, {}, self.clock.now(), 0.0)

    def _container_events(self, probe: Probe) -> list[dict]:
        """Docker engine events the probe kept that were not handed over yet."""
        snapshot = getattr(probe, "events_snapshot", None)
        if snapshot is None:
            return []
        seen = self._container_seen.get(probe.target)
        fresh = []
        for event in snapshot():
            if seen is not None and event["time"] <= seen:
                continue
            fresh.append(event)
            seen = event["time"]
        if seen is not None:
            self._container_seen[probe.target] = seen
        return fresh
