"""Test doubles for the probe protocol: instant, scripted, hanging or failing probes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from launchdeck.model import Outcome, Status


@dataclass
class FakeProbe:
    target: str
    outcomes: list[Outcome] = field(default_factory=lambda: [Outcome(Status.OK, "fine")])
    panel: str = "services"
    timeout: float = 1.0
    interval: float = 60.0
    delay: float = 0.0
    error: BaseException | None = None
    calls: int = 0
    active: int = 0
    max_active: int = 0
    closed: bool = False

    async def collect(self) -> Outcome:
        self.calls += 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.error is not None:
                raise self.error
            return self.outcomes[min(self.calls, len(self.outcomes)) - 1]
        finally:
            self.active -= 1

    async def aclose(self) -> None:
        self.closed = True


def ok(reason: str = "HTTP 200", **values) -> Outcome:
    return Outcome(Status.OK, reason, values)
