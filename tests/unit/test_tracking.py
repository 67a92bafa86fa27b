"""Since-when, flaps and state-change events; the text sparkline."""

from datetime import datetime, timedelta, timezone

from launchdeck.core.model import Reading, Status
from launchdeck.engine.tracking import Tracker
from launchdeck.tui.widgets.spark import sparkline

T0 = datetime(2026, 2, 1, tzinfo=timezone.utc)


def reading(minute: float, status: Status, reason: str = "") -> Reading:
    return Reading("services", "api", status, reason, {}, T0 + timedelta(minutes=minute), 0.0)


def test_since_moves_only_on_a_status_change_and_events_record_it():
    tracker = Tracker()
    assert tracker.observe(reading(0, Status.OK)).since == T0
    assert tracker.observe(reading(5, Status.OK)).since == T0
    track = tracker.observe(reading(6, Status.CRIT, "refused"))
    assert track.since == T0 + timedelta(minutes=6) and track.flaps == 1
    assert [(e.old, e.new, e.reason) for e in tracker.events] == [(None, Status.OK, ""),
                                                                 (Status.OK, Status.CRIT, "refused")]


def test_flaps_count_changes_in_the_last_15_minutes_only():
    tracker = Tracker()
    for minute, status in enumerate([Status.OK, Status.CRIT, Status.OK, Status.CRIT, Status.OK]):
        track = tracker.observe(reading(minute, status))
    assert track.flaps == 4
    assert tracker.observe(reading(30, Status.OK)).flaps == 0


def test_sparkline_scales_and_marks_gaps():
    assert sparkline([], 5) == "     "
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8) == "▁▂▃▄▅▆▇█"
    assert sparkline([1, None, 1], 4) == " █ █"
    assert sparkline([0.0, 0.0], 3) == " ▁▁"
    assert len(sparkline(range(100), 10)) == 10


def test_leaving_the_first_unknown_is_the_first_reading_not_a_flap():
    """A traffic target's first scrape reads unknown (its rate needs two); the second reads ok.
    The wall and the dashboard showed "1 flap" on every healthy traffic row for 15 minutes."""
    tracker = Tracker()
    assert tracker.observe(reading(0, Status.UNKNOWN, "warming up")).flaps == 0
    first_real = tracker.observe(reading(0.1, Status.OK))
    assert first_real.flaps == 0 and first_real.since == T0 + timedelta(minutes=0.1)
    # once it has been judged, going unknown and back is two changes
    tracker.observe(reading(1, Status.UNKNOWN, "timeout"))
    assert tracker.observe(reading(2, Status.OK)).flaps == 2
