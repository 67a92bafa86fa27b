"""`launchdeck replay`: the real dashboard and timeline over a recording, moved by the cursor keys."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from launchdeck.cli.replay import config_for
from launchdeck.engine.replay import ReplayEngine, load_recording
from launchdeck.tui.replay import ReplayApp, ReplayBar
from launchdeck.tui.screens.timeline import EventList, TimelineScreen
from tests.tui.helpers import wait_until
from tests.unit.test_replay import record_session


def row(app, target: str) -> str:
    return app.dashboard.query_one("#services").rows[target].plain()


def bar(app) -> str:
    return app.dashboard.query_one(ReplayBar).render().plain


async def replay_app(tmp_path) -> ReplayApp:
    await asyncio.to_thread(record_session, tmp_path / "rec.jsonl")  # a real Engine on a loop of its own
    recording = load_recording(tmp_path / "rec.jsonl")
    config = config_for(recording)
    return ReplayApp(config, ReplayEngine(recording, config))


async def test_the_cursor_keys_move_the_dashboard_through_the_recording(tmp_path):
    app = await replay_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: bool(app.dashboard.query(ReplayBar)) and ("services", "checkout") in app.latest)
        assert bar(app).startswith("REPLAY 12:00:00 of 12:00–12:01")
        assert "ok" in row(app, "checkout") and app.recorder is None, "a replay records nothing"
        await pilot.press("n")  # the first incident: checkout's 503 at 12:00:40
        await wait_until(pilot, lambda: "503" in row(app, "checkout"))
        assert bar(app).startswith("REPLAY 12:00:40 ")
        await pilot.press("right_curly_bracket")  # +1 min: past the end, kept at the end (12:01:35)
        assert bar(app).startswith("REPLAY 12:01:35 ")
        await wait_until(pilot, lambda: "503" not in row(app, "checkout"))
        await pilot.press("left_curly_bracket", "left_square_bracket")  # back 70 s: 12:00:25, before the breach
        assert bar(app).startswith("REPLAY 12:00:25 ")
        await wait_until(pilot, lambda: "503" not in row(app, "checkout") and "ok" in row(app, "checkout"))
        await pilot.press("r")
        await pilot.pause()
        assert any("polls nothing" in n.message for n in app._notifications)


async def test_the_timeline_shows_the_events_up_to_the_cursor_and_follows_it(tmp_path):
    app = await replay_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: bool(app.dashboard.query(ReplayBar)))
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TimelineScreen))
        events = app.screen.query_one(EventList)
        assert events.shown == []  # nothing had happened at 12:00:00
        await pilot.press("n", "n")  # checkout's breach, then search's
        assert [e.target for e in events.shown] == ["checkout", "search"]
        title = app.screen.query_one("#timeline-title").render().plain
        assert title.startswith("REPLAY 12:00:50 ")
        await pilot.press("p", "left_square_bracket")  # back before the first breach: the log is rebuilt
        assert events.shown == []
        app.replay.seek(app.replay.start_time + timedelta(minutes=2))
        app.show_cursor()
        assert {e.kind for e in events.shown} == {"breach", "recovery"}


async def test_the_wall_reads_the_replay_at_its_cursor(tmp_path):
    from launchdeck.tui.screens.wall import WallScreen

    app = await replay_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: bool(app.dashboard.query(ReplayBar)))
        await pilot.press("n")  # checkout's breach
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, WallScreen))
        await pilot.pause(0.3)
        shown = " ".join(widget.render().plain for widget in app.screen.query("#wall-reasons"))
        assert "checkout" in shown and "503" in shown


async def test_a_jump_back_redraws_every_sparkline_from_readings_up_to_the_cursor(tmp_path):
    """A row keeps what it was shown: after a jump back its sparkline held slices after the cursor."""
    app = await replay_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: bool(app.dashboard.query(ReplayBar)) and ("services", "checkout") in app.latest)
        spark = app.dashboard.query_one("#services").rows["checkout"].latencies

        def newest_slice() -> int | None:
            return spark._newest

        def cursor_slice() -> int:
            return int(app.replay.cursor.timestamp() // spark.seconds)

        await pilot.press("right_curly_bracket", "right_curly_bracket")  # the end, 12:01:35
        await pilot.pause()
        assert newest_slice() == cursor_slice() and len([v for v in spark.values if v is not None]) >= 3
        await pilot.press("left_curly_bracket", "left_curly_bracket")  # back to the start
        await pilot.pause()
        assert newest_slice() == cursor_slice(), "no slice after the cursor"
        assert len([v for v in spark.values if v is not None]) == 1, "only the readings up to 12:00:00"
