"""The probe engine: failures become readings, timeouts are per probe, loops never overlap."""

import time

from launchdeck.core.model import FixedClock, Outcome, Status
from launchdeck.core.config import parse_config
from launchdeck.engine.engine import Engine
from launchdeck.engine.polling import collect_once
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


def _engine(probes):
    services = "".join(f'[[services]]\nname = "{p.target}"\nurl = "http://127.0.0.1:9/"\n' for p in probes)
    return Engine(parse_config(services, "t.toml", {}), probes, FixedClock())


async def test_one_hanging_probe_costs_its_timeout_not_the_sum():
    probes = [FakeProbe(f"slow{i}", delay=0.3) for i in range(4)] + [FakeProbe("hung", delay=30, timeout=0.5)]
    started = time.monotonic()
    snapshot = await _engine(probes).run_once()
    elapsed = time.monotonic() - started
    assert [snapshot.readings[("services", p.target)].status for p in probes] == [Status.OK] * 4 + [Status.UNKNOWN]
    assert elapsed < 1.2, f"sequential would take 1.7 s, parallel about 0.5 s; took {elapsed:.2f}"


def _until(predicate, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_the_engine_polls_without_overlap_and_refresh_cuts_the_sleep_short():
    busy = FakeProbe("api", delay=0.02, interval=0.01)
    idle = FakeProbe("web", interval=3600)
    engine = _engine([busy, idle])
    seen = []
    engine.subscribe(seen.append)
    engine.start()
    try:
        _until(lambda: busy.calls >= 4 and idle.calls == 1)
        assert busy.max_active == 1  # one long-lived task per probe: a poll never overlaps the last
        engine.refresh()
        _until(lambda: idle.calls == 2)
    finally:
        engine.stop()
    assert {n.reading.target for n in seen} == {"api", "web"}


async def test_secrets_are_scrubbed_from_string_values_too():
    probe = FakeProbe("db", [Outcome(Status.CRIT, "auth failed", {"output": "login with hunter22 failed", "n": 3})])
    reading = await collect_once(probe, scrub=Scrubber(["hunter22"]))
    assert reading.values["output"] == "login with *** failed" and reading.values["n"] == 3


async def test_a_fan_out_probe_yields_one_reading_per_target_and_failures_stay_single():
    from launchdeck.engine.polling import collect_batch
    from launchdeck.probes.base import Batch

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
    snapshot = await _engine([FakeProbe("api")] + [Host("vps1", panel="containers")]).run_once()
    assert sorted(snapshot.readings) == [("containers", "vps1/db"), ("containers", "vps1/web"), ("services", "api")]


def test_a_held_engine_prepares_but_polls_only_after_release():
    """The TUI starts the engine while it composes its first screen and releases it after the first
    paint: nothing is polled before, and everything is polled after."""
    probes = [FakeProbe("web", interval=3600), FakeProbe("api", interval=3600)]
    engine = _engine(probes)
    engine.start(wait=True, hold=True)  # returns once prepared
    try:
        time.sleep(0.3)
        assert [p.calls for p in probes] == [0, 0], "polled before release()"
        engine.release()
        deadline = time.monotonic() + 5
        while any(p.calls == 0 for p in probes) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [p.calls for p in probes] == [1, 1]
    finally:
        engine.stop()
    assert all(p.closed for p in probes)


def test_stopping_a_held_engine_polls_nothing_and_ends_its_thread():
    probes = [FakeProbe("web", interval=3600)]
    engine = _engine(probes)
    engine.start(wait=False, hold=True)  # and quit before the first paint
    engine.stop(2.0)
    assert not engine._thread.is_alive(), "the engine thread outlived stop()"
    assert probes[0].calls == 0 and probes[0].closed
