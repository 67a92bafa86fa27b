"""DESIGN rule 7: a steady system must not repaint. Numbers hold still within 10 %, reasons and
durations change at most once a minute, and a status change always shows the current number."""

from launchdeck.core.model import Outcome, Status
from launchdeck.tui.widgets.rows import Steady
from tests.fakes import FakeProbe
from tests.tui.helpers import app_with, wait_until


def test_steady_moves_past_its_share_or_on_a_status_change():
    steady = Steady(0.1)
    assert steady.hold(Status.OK, {"x": 100.0}) == {"x": 100.0}
    assert steady.hold(Status.OK, {"x": 109.0}) == {"x": 100.0}
    assert steady.hold(Status.OK, {"x": 91.0}) == {"x": 100.0}
    assert steady.hold(Status.OK, {"x": 111.0}) == {"x": 111.0}
    assert steady.hold(Status.WARN, {"x": 112.0}) == {"x": 112.0}, "the badge changed: show the number now"
    assert steady.hold(Status.WARN, {"x": None}) == {"x": None}, "no data is never hidden"
    assert steady.hold(Status.WARN, {"x": 0.0}) == {"x": 0.0}
    assert steady.hold(Status.WARN, {"x": 0.001}) == {"x": 0.001}, "from zero, any change shows"
    floored = Steady(0.1, floors={"x": 0.001})
    assert floored.hold(Status.OK, {"x": 0.0058}) == {"x": 0.0058}
    assert floored.hold(Status.OK, {"x": 0.0067}) == {"x": 0.0058}, "0.09 points of noise"
    assert floored.hold(Status.OK, {"x": 0.0070}) == {"x": 0.0070}


async def test_a_wobbling_latency_does_not_repaint_its_cell():
    latencies = [0.100, 0.105, 0.094, 0.130]
    probe = FakeProbe("web", [Outcome(Status.OK, "HTTP 200", {"latency_seconds": s}) for s in latencies])
    app = app_with([probe])
    async with app.run_test() as pilot:
        cell = app.dashboard.query_one("#services").rows["web"].cells["latency"]
        seen = []
        for calls in range(1, len(latencies) + 1):
            if calls > 1:
                app.action_refresh()
            await wait_until(pilot, lambda: probe.calls == calls)
            await pilot.pause()
            seen.append(cell.text.plain.strip())
        assert seen == ["100ms", "100ms", "100ms", "130ms"]


def test_sparkline_slices_keep_the_worst_and_show_gaps():
    from datetime import datetime, timedelta, timezone

    from launchdeck.tui.widgets.spark import Buckets

    t0 = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
    spark = Buckets(5, seconds=30)
    spark.add(t0, 0.1)
    spark.add(t0 + timedelta(seconds=10), 0.4)  # same slice: the worst wins
    spark.add(t0 + timedelta(seconds=20), 0.2)
    assert list(spark.values) == [0.4]
    before = spark.text()
    spark.add(t0 + timedelta(seconds=25), 0.3)
    assert spark.text() == before, "a better value in the same slice changes nothing on screen"
    spark.add(t0 + timedelta(seconds=95), 0.8)  # two slices later: one empty slice between
    assert list(spark.values) == [0.4, None, None, 0.8]
    spark.add(t0 + timedelta(seconds=40), 0.9)  # late, for a past slice still shown: it lands there
    assert list(spark.values) == [0.4, 0.9, None, 0.8]
    spark.add(t0 - timedelta(minutes=10), 1.0)  # older than the 5 slices shown: ignored
    assert list(spark.values) == [0.4, 0.9, None, 0.8]


def test_a_backfill_that_lands_after_the_first_live_poll_still_fills_the_sparkline():
    from datetime import datetime, timedelta, timezone

    from launchdeck.tui.widgets.spark import Buckets

    now = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
    spark = Buckets(10, seconds=30)
    spark.add(now, 0.02)
    for step in range(12, 0, -1):
        spark.add(now - timedelta(seconds=30 * step), 0.01)
    assert list(spark.values) == [0.01] * 9 + [0.02]
