"""The timeline screen (`t`): the engine's events in order, filters, following new events, people's text."""

from __future__ import annotations

from datetime import timedelta

from launchdeck.core.model import FixedClock, Status
from launchdeck.tui.screens.dashboard import DashboardScreen
from launchdeck.tui.screens.timeline import EventList, TimelineScreen
from tests.tui.helpers import app_with, mixed_probes, wait_until

T0 = FixedClock().now()


def listing(app) -> EventList:
    return app.screen.query_one(EventList)


def lines(app) -> list[str]:
    shown = listing(app)
    return [shown.plain(i) for i in range(len(shown.shown))]


async def open_timeline(pilot, app, events: int) -> None:
    await wait_until(pilot, lambda: app.engine.events.last_seq >= events)
    await pilot.press("t")
    await wait_until(pilot, lambda: isinstance(app.screen, TimelineScreen))


async def test_t_opens_every_event_in_order_and_escape_goes_back():
    app = app_with(mixed_probes())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_timeline(pilot, app, 4)  # four targets start out of ok: four "first" events
        shown = lines(app)
        assert len(shown) == app.engine.events.last_seq
        assert any("services/checkout" in line and "crit" in line and "HTTP 503" in line for line in shown)
        assert any("services/auth" in line and "timeout after 2s" in line for line in shown)
        assert not any("services/web " in line for line in shown), "a first ok reading is not news"
        title = app.screen.query_one("#timeline-title").render().plain
        assert f"{len(shown)} of {len(shown)} events" in title
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_filters_by_severity_panel_and_typed_target():
    app = app_with(mixed_probes())
    async with app.run_test(size=(80, 24)) as pilot:
        events = app.engine.events
        await wait_until(pilot, lambda: events.last_seq >= 4)
        events.add(T0, "checklists", "launch.md", "sign", Status.OK, "sign by ana: Deploy to production")
        events.add(T0, "containers", "local/shop-web", "container", Status.WARN, "die exitCode=137")
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TimelineScreen))
        total = len(lines(app))
        await pilot.press("s", "s")  # crit only
        assert lines(app) and all(" crit " in line for line in lines(app))
        assert len(lines(app)) == 2  # checkout's 503 and search's refused connection
        await pilot.press("x")
        assert len(lines(app)) == total
        await pilot.press("P", "P", "P", "P", "P")  # services, traffic, containers, backups, checklists
        assert lines(app) == [line for line in lines(app) if "checklists/launch.md" in line] and len(lines(app)) == 1
        await pilot.press("x", "slash", *"sea")
        assert len(lines(app)) == 1 and "services/search" in lines(app)[0]
        await pilot.press("enter", "escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_new_events_are_followed_live():
    app = app_with(mixed_probes())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_timeline(pilot, app, 4)
        before = len(lines(app))
        app.engine.events.add(T0 + timedelta(minutes=3), "services", "checkout", "recovery", Status.OK,
                              "crit → ok")
        await wait_until(pilot, lambda: len(lines(app)) == before + 1)
        assert "recovery" in lines(app)[-1]
        assert listing(app).cursor == before, "the cursor follows the newest event"


async def test_people_text_is_shown_literally_never_as_markup():
    app = app_with(mixed_probes())
    async with app.run_test(size=(80, 24)) as pilot:
        note = "[bold red]approved[/] [@click=app.quit]x[/] \x1b[2J done"
        await wait_until(pilot, lambda: app.engine.events.last_seq >= 4)
        app.engine.events.add(T0, "checklists", "[b]list[/b]", "waive", Status.WARN, note)
        await open_timeline(pilot, app, 5)
        line = lines(app)[-1]
        assert "checklists/[b]list[/b]" in line
        assert "[bold red]approved[/] [@click=app.quit]x[/] ␛[2J done" in line
        detail = app.screen.query_one("#timeline-detail").render().plain
        assert "[bold red]approved[/]" in detail and "\x1b" not in detail


async def test_ten_thousand_events_are_one_widget_and_filter_whole():
    app = app_with(mixed_probes())
    async with app.run_test(size=(80, 24)) as pilot:
        events = app.engine.events
        await wait_until(pilot, lambda: events.last_seq >= 4)
        for i in range(10_000 - events.last_seq):
            events.add(T0 + timedelta(seconds=i), "services", f"svc-{i % 100:03d}", "change",
                       Status.WARN if i % 10 else Status.CRIT, f"event {i}")
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TimelineScreen))
        assert len(lines(app)) == 10_000
        assert len(app.screen.query("*")) < 40, "one widget for the list, not one per event"
        assert listing(app).cursor == 9_999, "opens on the newest"
        await pilot.press("home")
        assert listing(app).cursor == 0 and listing(app).scroll_offset.y == 0
        await pilot.press("slash", *"svc-042")
        assert len(lines(app)) == 100 and all("svc-042" in line for line in lines(app))
        await pilot.press("enter", "end", "up")
        assert listing(app).cursor == 98


async def test_an_event_reported_late_takes_its_place_in_time():
    app = app_with(mixed_probes())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_timeline(pilot, app, 4)
        events = app.engine.events
        events.add(T0 + timedelta(minutes=10), "services", "checkout", "recovery", Status.OK, "crit → ok")
        await wait_until(pilot, lambda: "recovery" in lines(app)[-1])
        events.add(T0 + timedelta(minutes=5), "containers", "local/web", "container", Status.WARN, "die late")
        await wait_until(pilot, lambda: any("die late" in line for line in lines(app)))
        assert "die late" in lines(app)[-2] and "recovery" in lines(app)[-1]
        times = [e.time for e in listing(app).shown]
        assert times == sorted(times)


async def test_the_dashboard_records_and_an_unwritable_recording_is_one_warning(tmp_path):
    from launchdeck.core.config import parse_config
    from launchdeck.tui.app import make_app

    source = tmp_path / "launchdeck.toml"
    source.write_text("")
    (tmp_path / "taken").mkdir()
    services = "".join(f'[[services]]\nname = "{p.target}"\nurl = "http://127.0.0.1:9/"\n' for p in mixed_probes())
    config = parse_config(f'[deck]\nname = "shop"\nrecord = "taken"\n{services}', str(source), {})
    app = make_app(config, probes=mixed_probes(), clock=FixedClock())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: any("not recording" in n.message for n in app._notifications))
        await pilot.pause(0.3)
        told = [n for n in app._notifications if "not recording" in n.message]
        assert len(told) == 1 and "is a directory" in told[0].message
        problems = [e for e in app.engine.events.since(0) if e.kind == "problem"]
        assert len(problems) == 1 and problems[0].target == "flight recorder"
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TimelineScreen))
        assert any("engine/flight recorder problem" in line for line in lines(app))
        assert len(app.latest) == 5, "the dashboard goes on"

    config = parse_config(f'[deck]\nname = "shop"\n{services}', str(source), {})  # the default: beside the ledger
    app = make_app(config, probes=mixed_probes(), clock=FixedClock())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.latest) == 5)
    recorded = (tmp_path / "launchdeck-record.jsonl").read_text().splitlines()
    assert sum('"type":"reading"' in line for line in recorded) == 5
    assert recorded[0].startswith('{"t":') and '"what":"start"' in recorded[0] and '"what":"stop"' in recorded[-1]


async def test_a_timeline_left_open_keeps_as_many_events_as_the_log(monkeypatch):
    monkeypatch.setattr("launchdeck.tui.screens.timeline.EVENTS_KEPT", 20)
    app = app_with(mixed_probes())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_timeline(pilot, app, 4)
        for i in range(40):
            app.engine.events.add(T0 + timedelta(minutes=1, seconds=i), "services", "web", "change", Status.WARN,
                                  f"moved {i}")
        await wait_until(pilot, lambda: "moved 39" in lines(app)[-1])
        assert 20 <= len(listing(app).events) <= 22 and "moved 0 " not in " ".join(lines(app))
