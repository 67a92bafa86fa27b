"""Evidence expressions: parsing, and judging them against a history of readings."""

from datetime import datetime, timedelta, timezone

import pytest

from launchdeck.checklists.evidence import (FAIL, PASS, PENDING, UNKNOWN, EvidenceSyntaxError, evaluate,
                                            parse_condition)
from launchdeck.core.history import ReadingHistory
from launchdeck.core.model import Reading, Status

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def add(history, panel, target, minute, status=Status.OK, **values):
    history.add(Reading(panel, target, status, "", values, T0 + timedelta(minutes=minute), 0.0))


@pytest.mark.parametrize("text, panel, target, metric, op, value, hold", [
    ("services.all_ok", "services", None, "all_ok", None, None, 0),
    ("services.api.ok", "services", "api", "ok", None, None, 0),
    ("backups.age < 26h", "backups", None, "age_seconds", "<", 93600, 0),
    ("traffic.error_ratio < 1% for 15m", "traffic", None, "error_ratio", "<", 0.01, 900),
    ("traffic.api.p95 <= 500ms for 5m", "traffic", "api", "p95_seconds", "<=", 0.5, 300),
    ("containers.db.restarts == 0", "containers", "db", "restarts", "==", 0, 0),
])
def test_parse(text, panel, target, metric, op, value, hold):
    c = parse_condition(text)
    assert (c.panel, c.target, c.metric, c.op, c.hold) == (panel, target, metric, op, hold)
    assert c.value == (pytest.approx(value) if value is not None else None)


@pytest.mark.parametrize("text", ["", "services", "services.all_ok < 3", "traffic.error_ratio",
                                  "traffic.error_ratio < lots", "backups.age < 26h for ever", "a b c"])
def test_parse_errors_say_what_is_expected(text):
    with pytest.raises(EvidenceSyntaxError):
        parse_condition(text)


def test_all_ok_passes_only_when_every_target_is_ok_and_unknown_never_passes():
    history = ReadingHistory()
    condition = parse_condition("services.all_ok")
    assert evaluate(condition, history, T0).state == UNKNOWN
    add(history, "services", "web", 0)
    add(history, "services", "api", 0)
    assert evaluate(condition, history, T0).state == PASS
    add(history, "services", "api", 1, Status.CRIT)
    result = evaluate(condition, history, T0)
    assert result.state == FAIL and result.detail.startswith("api:") and result.values == {"web": "ok", "api": "crit"}
    add(history, "services", "api", 2, Status.UNKNOWN)
    assert evaluate(condition, history, T0).state == UNKNOWN


def test_value_comparison_for_every_target_and_missing_values_are_unknown():
    history = ReadingHistory()
    condition = parse_condition("backups.age < 26h")
    add(history, "backups", "main_db", 0, age_seconds=3600)
    add(history, "backups", "files", 0, age_seconds=30 * 3600)
    result = evaluate(condition, history, T0)
    assert result.state == FAIL and "files" in result.detail
    add(history, "backups", "files", 1, age_seconds=7200)
    assert evaluate(condition, history, T0).state == PASS
    add(history, "backups", "files", 2, Status.UNKNOWN, age_seconds=float("nan"))
    assert evaluate(condition, history, T0).state == UNKNOWN


def test_for_duration_needs_an_unbroken_run_that_long():
    history = ReadingHistory(keep_seconds=3600)
    condition = parse_condition("traffic.error_ratio < 1% for 15m")
    for minute in range(0, 10):
        add(history, "traffic", "api", minute, error_ratio=0.002)
    now = T0 + timedelta(minutes=9)
    result = evaluate(condition, history, now)
    assert result.state == PENDING and "9m of 15m" in result.detail
    for minute in range(10, 16):
        add(history, "traffic", "api", minute, error_ratio=0.002)
    assert evaluate(condition, history, T0 + timedelta(minutes=15)).state == PASS
    add(history, "traffic", "api", 16, error_ratio=0.03)
    assert evaluate(condition, history, T0 + timedelta(minutes=16)).state == FAIL
    add(history, "traffic", "api", 17, error_ratio=0.001)
    assert evaluate(condition, history, T0 + timedelta(minutes=17)).state == PENDING


def test_history_is_bounded_by_age_and_count():
    history = ReadingHistory(keep_seconds=600, max_per_target=50)
    for minute in range(0, 120):
        add(history, "traffic", "api", minute / 2, error_ratio=0.0)
    kept = list(history.newest_first("traffic", "api"))
    assert len(kept) <= 50
    assert (kept[0].observed_at - kept[-1].observed_at) <= timedelta(seconds=600)
    history.needs(7200)
    assert history.keep == timedelta(seconds=7200)


@pytest.mark.parametrize("text, values, detail", [
    ("backups.age < 26h", {"age_seconds": 144059}, "main_db: age 40h, needs < 26h now"),
    ("backups.main_db.error_ratio < 1%", {"error_ratio": 0.012}, "main_db: error ratio 1.2%, needs < 1% now"),
    ("backups.main_db.p95 <= 300ms", {"p95_seconds": 0.48}, "main_db: p95 480ms, needs <= 300ms now"),
])
def test_a_failing_value_is_said_in_human_units(text, values, detail):
    history = ReadingHistory()
    add(history, "backups", "main_db", 0, **values)
    result = evaluate(parse_condition(text), history, T0)
    assert result.state == FAIL and result.detail == detail
