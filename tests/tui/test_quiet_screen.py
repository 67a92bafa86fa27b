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


def test_sparklines_are_drawn_against_the_rows_thresholds_not_their_own_maximum():
    from launchdeck.tui.widgets.spark import BARS, sparkline, threshold_scale

    errors = threshold_scale(0.01, 0.05)  # error_ratio_warn 1 %, error_ratio_crit 5 %
    assert sparkline([0.001] * 4, 4, scale=errors) == BARS[0] * 4, "0.10 % under a 1 % warn draws low"
    assert sparkline([0.0311] * 4, 4, scale=errors)[0] in BARS[4:7], "3.11 %: between warn (▅) and crit (█)"
    assert sparkline([0.01, 0.05, 0.5], 3, scale=errors) == "▅██", "warn is ▅, crit and past it █"
    spike = sparkline([2.0, 0.12, 0.11, 0.13], 4, scale=threshold_scale(0.5, 1.0))
    assert spike[0] == "█" and set(spike[1:]) == {BARS[1]}, "a start-up spike does not flatten what follows"
    assert sparkline([2.0, 0.12, 0.11, 0.13], 4)[1:] == BARS[0] * 3, "(the old own-maximum scale did)"


async def test_a_filling_rate_window_is_said_to_be_warming_up_and_dimmed():
    """A /metrics source's rate over a 60 s window from 20 s of scrapes is a third of the traffic."""
    from datetime import timedelta

    values = {"error_ratio": 0.002, "p95_seconds": 0.1, "rate_rps": 13.0, "scrapes": 10}
    probe = FakeProbe("api", [Outcome(Status.OK, "fine", values)], panel="traffic", interval=0.05)
    extra = '[[traffic]]\nname = "api"\nsource = "scrape"\nscrape_url = "http://127.0.0.1:9/metrics"\nwindow = "1m"\n'
    app = app_with([probe], extra=extra)
    async with app.run_test(size=(120, 40)) as pilot:
        row = app.dashboard.query_one("#traffic").rows["api"]
        await wait_until(pilot, lambda: "warming up" in row.plain())
        assert "warming up (0 s of 60 s)" in row.plain() and "within thresholds" not in row.plain()
        assert "dim" in str(row.cells["rate"].text.spans), "the climbing rate is dimmed"
        app.clock.advance(40)
        await wait_until(pilot, lambda: "(40 s of 60 s)" in row.plain())
        app.clock.advance(21)
        await wait_until(pilot, lambda: "within thresholds" in row.plain())
        assert "dim" not in str(row.cells["rate"].text.spans)
        assert timedelta(seconds=61) == app.clock.now() - row.first_at
