"""One collection of one probe under its own timeout, stamped as a Reading (the engine schedules them).

Every failure becomes data: an exception or a timeout inside a probe turns into a reading with
status `unknown` and a reason, so one hung target never stops the others (DESIGN rules 2, 3).
"""

from __future__ import annotations

import asyncio
from typing import Callable

from launchdeck.core.model import Clock, Outcome, Reading, Status, SystemClock
from launchdeck.probes.base import Batch, Probe
from launchdeck.core.redact import Scrubber
from launchdeck.core.units import format_duration


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
