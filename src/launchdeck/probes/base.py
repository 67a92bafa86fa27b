"""What every probe is: the protocol the engine polls, and the Batch a fan-out probe returns."""

from __future__ import annotations

from typing import Protocol

from launchdeck.core.model import Outcome


class Probe(Protocol):
    """A headless collector for one target. `collect` may raise; the engine turns that into data."""

    panel: str
    target: str
    timeout: float
    interval: float

    async def collect(self) -> Outcome: ...

    async def aclose(self) -> None: ...


class Batch(list):
    """What a fan-out probe returns: (target, Outcome) pairs, one per thing it found (a container
    per row). A failure of the whole source is still a single Outcome for the probe's own target."""
