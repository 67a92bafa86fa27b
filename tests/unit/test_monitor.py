"""The probe engine: failures become readings, timeouts are per probe, loops never overlap."""

import asyncio
import random
import time

from launchdeck.core.model import FixedClock, Outcome, Status
from launchdeck.engine.polling import collect_all, collect_once, poll_forever
from launchdeck.core.redact import Scrubber
from tests.fakes import FakeProbe


async def test_outcome_is_stamped_with_target_time_and_duration():
    clock = FixedClock()
    reading = await collect_once(FakeProbe("api", [Outcome(Status.WARN, "slow", {"latency_seconds": 0.7})]), clock)
    assert (reading.panel, reading.target, reading.status, reading.reason) == ("services", "api", Status.WARN, "slow")
    assert reading.values["latency_seconds"] == 0.7 and reading.observed_at == clock.now()


async def test_timeout_becomes_unknown_with_the_limit_in_the_reason():
    reading = await collect_once(FakeProbe("hung", delay=30, timeout=0.05))
    assert reading.status is Status.UNKNOWN and reading.reason == "timeout after 50ms"


async def test_exception_becomes_unknown_and_secrets_are_scrubbed():
    probe = FakeProbe("db", error=RuntimeError("auth failed for password hunter22"))
    reading = await collect_once(probe, scrub=Scrubber(["hunter22"]))
    assert reading.status is Status.UNKNOWN
    assert reading.reason == "probe error: RuntimeError: auth failed for password ***"


async def test_one_hanging_probe_costs_its_timeout_not_the_sum():
    probes = [FakeProbe(f"slow{i}", delay=0.3) for i in range(4)] + [FakeProbe("hung", delay=30, timeout=0.5)]
    started = time.monotonic()
    readings = await collect_all(probes)
    elapsed = time.monotonic() - started
    assert [r.status for r in readings] == [Status.OK] * 4 + [Status.UNKNOWN]
    assert elapsed < 1.2, f"sequential would take 1.7 s, parallel about 0.5 s; took {elapsed:.2f}"


async def test_poll_forever_never_overlaps_itself_and_publishes_each_reading():
    probe = FakeProbe("api", delay=0.02, interval=0.0)
    seen = []
    task = asyncio.create_task(poll_forever(probe, seen.append, rng=random.Random(1)))
    await asyncio.sleep(0.25)
    task.cancel()
    assert probe.max_active == 1
    assert len(seen) >= 3 and all(r.target == "api" for r in seen)


async def test_wake_cuts_the_sleep_short_and_async_publishers_are_awaited():
    probe = FakeProbe("api", interval=3600)
    wake = asyncio.Event()
    seen = []

    async def publish(reading):
        seen.append(reading)

    task = asyncio.create_task(poll_forever(probe, publish, wake=wake))
    await asyncio.sleep(0.05)
    assert probe.calls == 1 and len(seen) == 1
    wake.set()
    await asyncio.sleep(0.05)
    task.cancel()
    assert probe.calls == 2 and len(seen) == 2 and not wake.is_set()


async def test_secrets_are_scrubbed_from_string_values_too():
    probe = FakeProbe("db", [Outcome(Status.CRIT, "auth failed", {"output": "login with hunter22 failed", "n": 3})])
    reading = await collect_once(probe, scrub=Scrubber(["hunter22"]))
    assert reading.values["output"] == "login with *** failed" and reading.values["n"] == 3


async def test_a_fan_out_probe_yields_one_reading_per_target_and_failures_stay_single():
    from launchdeck.engine.polling import Batch, collect_batch

    class Host(FakeProbe):
        async def collect(self):
            await super().collect()
            if self.error is not None:
                raise self.error
            return Batch([("vps1/web", Outcome(Status.OK, "running", {"cpu_percent": 3.5})),
                          ("vps1/db", Outcome(Status.CRIT, "unhealthy token=hunter22", {}))])

    readings = await collect_batch(Host("vps1", panel="containers"), FixedClock(), Scrubber(["hunter22"]))
    assert [(r.panel, r.target, r.status) for r in readings] == [("containers", "vps1/web", Status.OK),
                                                                 ("containers", "vps1/db", Status.CRIT)]
    assert readings[0].values["cpu_percent"] == 3.5 and readings[1].reason == "unhealthy token=***"
    failing = await collect_batch(Host("vps1", panel="containers", error=OSError("ssh: host down")))
    assert [(r.target, r.status, r.reason) for r in failing] == [
        ("vps1", Status.UNKNOWN, "probe error: OSError: ssh: host down")]
    all_readings = await collect_all([Host("vps1", panel="containers"), FakeProbe("api")])
    assert [r.target for r in all_readings] == ["vps1/web", "vps1/db", "api"]
