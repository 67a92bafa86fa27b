"""The deploy's watch window: the engine's own judgement of health, error ratio and p95, for a while.

A deploy is "done" only when the window passes: the services and traffic targets are polled by an
Engine on its own thread (the same probes, thresholds and `*_for` sustain rules as the dashboard)
and any reading judged crit during the window is a breach, named with its target and reason. Run
from the dashboard, the window reads the dashboard's own engine (`live`) instead of polling every
target a second time; only readings taken since the window opened count.
Containers and backups are not part of the gate (a deploy does not make a backup late).
[actions.deploy] watch_services / watch_traffic narrow the window to the targets the deploy touches
(default: every service and traffic target).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from launchdeck.core.config import Config
from launchdeck.core.model import Status
from launchdeck.core.plain import visible

if TYPE_CHECKING:
    from launchdeck.engine.engine import Engine

TICK = 1.0  # s between looks at the engine's snapshot


@dataclass(frozen=True)
class WatchResult:
    passed: bool
    seconds: float
    breach: str | None  # "traffic shop: error ratio 7.1% > 5%", the first crit reading seen
    watched: list[str]  # the targets that were watched
    cancelled: bool = False

    def to_json(self) -> dict:
        return {"passed": self.passed, "seconds": round(self.seconds, 1), "breach": self.breach,
                "watched": self.watched, "cancelled": self.cancelled}


def watch_config(config: Config, services: list[str] | None = None, traffic: list[str] | None = None) -> Config:
    """The config with only what the gate watches: the chosen services and traffic targets (None: all)."""
    return config.model_copy(update={
        "containers": [], "backups": [],
        "services": [s for s in config.services if services is None or s.name in services],
        "traffic": [t for t in config.traffic if traffic is None or t.name in traffic]})


async def watch_window(config: Config, seconds: float, cancel: asyncio.Event,
                       say: Callable[[str], None] = lambda _text: None, tick: float = TICK,
                       live: Engine | None = None, services: list[str] | None = None,
                       traffic: list[str] | None = None) -> WatchResult:
    """Watch for `seconds`; stop at the first crit reading (a breach) or when `cancel` is set.
    `live`: a running engine to read (the dashboard's) instead of starting one; `services` / `traffic`:
    the targets judged (None: all)."""
    from launchdeck.engine.engine import Engine
    from launchdeck.probes import build_probes

    watched_config = watch_config(config, services, traffic)
    names = [f"{p}" for p in _targets(watched_config)]
    judged = {("services", s.name) for s in watched_config.services}
    judged |= {("traffic", t.name) for t in watched_config.traffic}
    if not names:
        say("watch window: no [[services]] or [[traffic]] to watch (none configured or chosen)")
        return WatchResult(True, 0.0, None, [])
    engine = live or Engine(watched_config, build_probes(watched_config))
    started, opened = time.monotonic(), engine.clock.now()
    say(f"watch window: {seconds:g}s on {', '.join(names)}")
    if live is None:
        engine.start()
    try:
        while (elapsed := time.monotonic() - started) < seconds:
            if breach := _first_crit(engine, opened, judged):
                say(f"watch window breached after {elapsed:.0f}s: {breach}")
                return WatchResult(False, elapsed, breach, names)
            with contextlib.suppress(TimeoutError):  # the tick: look at the readings again
                async with asyncio.timeout(min(tick, seconds - elapsed)):
                    await cancel.wait()
                return WatchResult(False, time.monotonic() - started, None, names, cancelled=True)
    finally:
        if live is None:
            engine.stop()  # joins its thread for at most a couple of seconds
    say(f"watch window passed ({seconds:g}s)")
    return WatchResult(True, time.monotonic() - started, None, names)


def _first_crit(engine: Engine, opened: datetime, judged: set[tuple[str, str]]) -> str | None:
    for reading in engine.snapshot().readings.values():
        if ((reading.panel, reading.target) in judged and reading.status is Status.CRIT
                and reading.observed_at >= opened):
            return visible(f"{reading.panel} {reading.target}: {reading.reason}")
    return None


def _targets(config: Config) -> list[str]:
    return [f"services {s.name}" for s in config.services] + [f"traffic {t.name}" for t in config.traffic]
