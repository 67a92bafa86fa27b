"""The engine's own honesty: the gate, stall detection and re-takes, the event log and the verdict order."""

from __future__ import annotations

import asyncio
import gc
import time

from launchdeck.core.config import parse_config
from launchdeck.core.model import FixedClock, Outcome, Reading, Status, Verdict
from launchdeck.engine.engine import Engine
from launchdeck.engine.pacing import Gate, LagMonitor
from tests.fakes import FakeProbe


async def test_the_gate_bounds_busy_collections_and_a_slow_one_gives_its_slot_back():
    gate = Gate(slots=2, lease=0.05)
    active = peak = 0

    async def work(seconds: float) -> float:
        nonlocal active, peak
        async with gate.slot():
            started = time.monotonic()
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(seconds)
            active -= 1
            return started

    fast = [asyncio.create_task(work(0.01)) for _ in range(6)]
    await asyncio.gather(*fast)
    assert peak == 2
    hung = [asyncio.create_task(work(1.0)) for _ in range(2)]
    await asyncio.sleep(0.01)
    begun = time.monotonic()
    started = await work(0.0)  # both slots are held by hung collections, leased for 50 ms
    assert 0.02 < started - begun < 0.5
    for task in hung:
        task.cancel()


async def test_a_blocked_loop_marks_the_sample_and_a_calm_one_does_not():
    monitor = LagMonitor(stall=0.025)
    async with monitor.watching() as calm:
        await asyncio.sleep(0.05)
    assert not calm.stalled()
    async with monitor.watching() as blocked:
        await asyncio.sleep(0.01)
        time.sleep(0.06)  # a blocking call on the loop: the tick now overdue counts
        assert blocked.stalled()
    async with monitor.watching() as long_sample:  # 30 ms away during a 700 ms answer: still its answer
        await asyncio.sleep(0.3)
        time.sleep(0.03)
        await asyncio.sleep(0.37)
    assert not long_sample.stalled()
    monitor.close()


async def test_a_garbage_collection_pause_is_a_stall():
    monitor = LagMonitor(stall=0.025)
    async with monitor.watching() as window:
        now = time.monotonic()
        monitor.stalls.append((now - 0.01, now + 0.03))  # as the gc callback records a 40 ms pause
        await asyncio.sleep(0.04)
    assert window.stalled()
    monitor.watch_collections()
    assert monitor._on_collection in gc.callbacks
    monitor.close()
    assert monitor._on_collection not in gc.callbacks  # an engine that stopped leaves no callback behind


class StallingProbe(FakeProbe):
    """Blocks the engine's loop inside its first `stalls` collections, like a UI holding the GIL."""

    measures_latency = True

    def __init__(self, target: str, stalls: int) -> None:
        super().__init__(target)
        self.stalls = stalls

    async def collect(self) -> Outcome:
        self.calls += 1
        if self.calls <= self.stalls:
            time.sleep(0.08)
            return Outcome(Status.WARN, "slow (≥ 50ms)", {"latency_seconds": 0.08})
        return Outcome(Status.OK, "HTTP 200", {"latency_seconds": 0.002})


def _config(names: list[str]):
    services = "".join(f'[[services]]\nname = "{n}"\nurl = "http://127.0.0.1:9/"\n' for n in names)
    return parse_config(services, "t.toml", {})


async def test_a_sample_taken_while_the_engine_stalled_is_re_taken_not_judged():
    probe = StallingProbe("web", stalls=2)
    engine = Engine(_config(["web"]), [probe], FixedClock())
    snapshot = await engine.run_once()
    assert probe.calls == 3 and engine.retakes == 2
    assert snapshot.readings[("services", "web")].status is Status.OK
    assert engine.events.since(0) == ()  # an ok first reading is no event


async def test_a_probe_that_times_nothing_itself_is_not_re_taken():
    """A container's CPU % or a backup's age does not change with the engine's stalls, and a re-take
    would measure CPU over the few ms since the first try."""
    probe = StallingProbe("web", stalls=1)
    probe.measures_latency = False
    engine = Engine(_config(["web"]), [probe], FixedClock())
    await engine.run_once()
    assert probe.calls == 1 and engine.retakes == 0


async def test_when_every_re_take_stalls_nothing_is_judged():
    probe = StallingProbe("web", stalls=99)
    engine = Engine(_config(["web"]), [probe], FixedClock())
    snapshot = await engine.run_once()
    assert probe.calls == 4 and engine.unjudged == 1
    assert ("services", "web") not in snapshot.readings


async def test_state_changes_become_events_and_a_first_reading_is_not_a_flap():
    clock = FixedClock()
    probe = FakeProbe("web", [Outcome(Status.OK), Outcome(Status.CRIT, "connection refused"), Outcome(Status.OK)])
    engine = Engine(_config(["web"]), [probe], clock)
    for _ in range(3):
        await engine.run_once()
        clock.advance(5)
    events = engine.events.since(0)
    assert [(e.kind, e.severity) for e in events] == [("breach", Status.CRIT), ("recovery", Status.OK)]
    assert events[0].text == "ok → crit: connection refused"
    assert engine.snapshot().tracks[("services", "web")].flaps == 2


def test_verdict_reasons_put_what_to_act_on_first():
    at = FixedClock().now()
    readings = [Reading("backups", "main_db", Status.CRIT, "older than max_age", {}, at, 0),
                Reading("containers", "web-1", Status.WARN, "restarted", {}, at, 0),
                Reading("services", "web", Status.CRIT, "connection refused", {}, at, 0),
                Reading("traffic", "api", Status.CRIT, "error ratio > 5%", {}, at, 0)]
    assert [r.split(" ")[0] for r in Verdict.from_readings(readings).reasons] == [
        "services/web", "traffic/api", "backups/main_db", "containers/web-1"]


async def test_check_samples_a_rate_source_twice_a_gap_apart_and_judges_the_second():
    first = Outcome(Status.UNKNOWN, "collecting: 1 scrape so far (rates need 2)")
    second = Outcome(Status.OK, "errors 0%, p95 90ms, 4.0 req/s")
    scrape = FakeProbe("web", [first, second], panel="traffic")
    scrape.samples_for_rates = 2
    engine = Engine(_config(["web"]), [scrape], FixedClock())
    started = time.monotonic()
    snapshot = await engine.run_once(rate_gap=0.2)
    assert scrape.calls == 2 and time.monotonic() - started >= 0.2
    assert snapshot.readings[("traffic", "web")].status is Status.OK
