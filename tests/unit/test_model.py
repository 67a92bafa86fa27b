from dataclasses import FrozenInstanceError
from datetime import datetime, timezone

import pytest

from launchdeck.core.model import FixedClock, Outcome, Reading, Status, Verdict, worst

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def reading(target: str, status: Status, reason: str = "", panel: str = "services", **values) -> Reading:
    return Reading(panel, target, status, reason, values, T0, 0.01)


def test_worst_ranks_crit_over_unknown_over_warn():
    assert worst([Status.OK, Status.WARN]) is Status.WARN
    assert worst([Status.WARN, Status.UNKNOWN]) is Status.UNKNOWN
    assert worst([Status.UNKNOWN, Status.CRIT, Status.OK]) is Status.CRIT
    assert worst([]) is Status.UNKNOWN


def test_exit_codes_follow_the_check_contract():
    assert [s.exit_code for s in (Status.OK, Status.WARN, Status.CRIT, Status.UNKNOWN)] == [0, 1, 2, 2]


def test_readings_are_immutable_snapshots():
    values = {"latency_seconds": 0.1}
    r = reading("api", Status.OK, **values)
    values["latency_seconds"] = 9
    assert r.values["latency_seconds"] == 0.1
    with pytest.raises(FrozenInstanceError):
        r.status = Status.CRIT  # type: ignore[misc]
    with pytest.raises(TypeError):
        r.values["x"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        Outcome(Status.OK, "", {"a": 1}).values["b"] = 2  # type: ignore[index]


def test_reading_json_is_flat_and_values_never_override_core_fields():
    r = Reading("services", "api", Status.WARN, "slow", {"latency_seconds": 0.6, "status": "spoofed"}, T0, 0.01)
    doc = r.to_json()
    assert doc["status"] == "warn" and doc["latency_seconds"] == 0.6
    assert doc["observed_at"] == "2026-01-01T00:00:00+00:00"


def test_verdict_lists_worst_reasons_first():
    v = Verdict.from_readings([
        reading("web", Status.OK), reading("pay", Status.WARN, "slow"), reading("search", Status.CRIT, "refused"),
    ])
    assert v.status is Status.CRIT and v.word == "no-go"
    assert v.reasons == ("services/search crit: refused", "services/pay warn: slow")
    assert Verdict.from_readings([reading("web", Status.OK)]).word == "go"
    assert Verdict.from_readings([reading("web", Status.WARN, "x")]).word == "caution"
    assert Verdict.from_readings([reading("web", Status.UNKNOWN, "timeout")]).word == "no-go"
    assert Verdict.from_readings([]).status is Status.UNKNOWN


def test_fixed_clock_moves_only_when_told():
    clock = FixedClock()
    start, mono = clock.now(), clock.monotonic()
    clock.advance(90)
    assert (clock.now() - start).total_seconds() == 90 and clock.monotonic() - mono == 90
