"""Test doubles for the probe protocol: instant, scripted, hanging or failing probes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from launchdeck.core.model import Outcome, Status


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


@dataclass
class FakeHost(FakeProbe):
    """A fan-out probe: each collect returns the next scripted batch of (target, Outcome)."""

    batches: list = field(default_factory=list)
    panel: str = "containers"

    async def collect(self):
        from launchdeck.probes.base import Batch

        await FakeProbe.collect(self)
        batch = self.batches[min(self.calls, len(self.batches)) - 1]
        if isinstance(batch, BaseException):
            raise batch
        return Batch(batch)


def container(name: str, status: Status = Status.OK, reason: str = "", host: str = "local", **values):
    base = {"name": name, "host": host, "image": "shop/web:1.4.2", "state": "running", "health": "none",
            "restarts": 0, "uptime_seconds": 3600.0, "cpu_percent": 1.0, "mem_bytes": 50 * 2**20, "pids": 4,
            "net_rx_bytes": 3 * 2**20, "net_tx_bytes": 800 * 2**10,
            "mem_limit_bytes": 512 * 2**20, "mem_percent": 9.8}
    return (f"{host}/{name}", Outcome(status, reason or "running", {**base, **values}))
