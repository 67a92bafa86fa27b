"""The app shell driven through Textual's Pilot: keys, readings, failures, as an operator meets them."""

from textual.command import CommandPalette

from launchdeck.core.model import Outcome, Status
from launchdeck.tui.screens.help import HelpScreen
from launchdeck.tui.widgets.header import DeckHeader
from launchdeck.tui.widgets.placeholder import PanelPlaceholder
from launchdeck.tui.widgets.rows import RowLines
from launchdeck.tui.widgets.verdict import VerdictBar
from tests.fakes import FakeProbe
from tests.tui.helpers import app_with, mixed_probes, wait_until


def row_text(app, target: str) -> str:
    row = app.dashboard.query_one("#services").rows[target]
    return row.plain()


async def test_each_reading_lands_on_its_own_row_and_drives_the_verdict():
    app = app_with(mixed_probes())
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.latest) == 5)
        assert row_text(app, "web").startswith("● ok")
        assert "127.0.0.1:8080/health" in row_text(app, "web")
        assert "▲ warn" in row_text(app, "payments") and "650ms" in row_text(app, "payments")
        assert "503" in row_text(app, "checkout") and "connection refused" in row_text(app, "search")
        assert "timeout after 2s" in row_text(app, "auth")
        verdict = app.dashboard.query_one(VerdictBar).render().plain
        assert verdict.startswith(" NO-GO ") and "(+3 more)" in verdict
        subtitle = app.dashboard.query_one("#services").border_subtitle
        assert not any(c.isdigit() for c in subtitle), "a static hint, no live count: a count repaints the panel"


async def test_rows_wait_visibly_before_the_first_reading():
    app = app_with([FakeProbe("slow", delay=30, timeout=60)])
    async with app.run_test() as pilot:
        await pilot.pause()
        assert "waiting for the first poll" in row_text(app, "slow")
        assert "waiting for the first readings" in app.dashboard.query_one(VerdictBar).render().plain


async def test_a_hung_probe_shows_timeout_on_its_row_while_others_keep_updating():
    hung = FakeProbe("hung", delay=30, timeout=0.2)
    busy = FakeProbe("busy", interval=0.05)
    app = app_with([hung, busy])
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: busy.calls >= 3)
        assert hung.max_active == 1  # its polls never overlap (a sample taken across an engine stall is
        # re-taken after the first has ended)
        await wait_until(pilot, lambda: "timeout after 200ms" in row_text(app, "hung"))
        assert row_text(app, "busy").startswith("● ok")


async def test_help_opens_with_question_mark_and_closes_with_escape():
    app = app_with([FakeProbe("web")])
    async with app.run_test() as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert app.screen is app.dashboard


async def test_refresh_key_and_palette_command_poll_now():
    probe = FakeProbe("web", interval=3600)
    app = app_with([probe])
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: probe.calls == 1)
        await pilot.press("r")
        await wait_until(pilot, lambda: probe.calls == 2)
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"Refresh now")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: probe.calls == 3)


async def test_production_stands_out_and_read_only_is_the_default():
    app = app_with([FakeProbe("web")])
    async with app.run_test() as pilot:
        header = app.dashboard.query_one(DeckHeader)
        assert header.has_class("-production")
        text = header.render().plain
        assert "PRODUCTION" in text and "READ-ONLY" in text
    staging = app_with([FakeProbe("web")], environment="staging", allow_actions=True)
    async with staging.run_test() as pilot:
        header = staging.dashboard.query_one(DeckHeader)
        assert not header.has_class("-production")
        assert "ACTIONS ENABLED" in header.render().plain and "STAGING" in header.render().plain


async def test_unconfigured_panels_say_what_to_add():
    app = app_with([FakeProbe("web")], extra='[[backups]]\nname = "db"\npath = "/b"\n')
    async with app.run_test() as pilot:
        slots = {p.id: p.render().plain for p in app.dashboard.query(PanelPlaceholder)}
        assert slots["containers"] == "Containers  not configured: add [[containers]] to launchdeck.toml"
        assert slots["traffic"] == "Traffic  not configured: add [prometheus] and [[traffic]] to launchdeck.toml"
        assert "backups" not in slots and list(app.dashboard.query_one("#backups").rows) == ["db"]
        await pilot.pause()
        assert all(p.region.height == 1 for p in app.dashboard.query(PanelPlaceholder)), "collapsed to one line"


async def test_a_crashed_poller_is_reported_on_its_row_not_frozen():
    broken = FakeProbe("broken", interval="soon")  # the loop's sleep arithmetic raises TypeError
    app = app_with([broken, FakeProbe("web")])
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: "poller stopped" in row_text(app, "broken"))
        assert app.latest[("services", "broken")].status is Status.UNKNOWN
        assert row_text(app, "web").startswith("● ok")


async def test_quit_closes_every_probe():
    probes = [FakeProbe("web"), FakeProbe("api")]
    app = app_with(probes)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: len(app.latest) == 2)
        await pilot.press("q")
    assert all(p.closed for p in probes)


async def test_only_a_changed_cell_is_repainted(monkeypatch):
    web = FakeProbe("web", [Outcome(Status.OK, "a", {"latency_seconds": 0.01})] * 2, interval=3600)
    api = FakeProbe("api", [Outcome(Status.OK, "a", {"latency_seconds": 0.01}),
                            Outcome(Status.CRIT, "refused", {"latency_seconds": 0.01})], interval=3600)
    app = app_with([web, api])
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: len(app.latest) == 2)
        rows = app.dashboard.query_one("#services").rows
        before = {t: {name: cell.text for name, cell in r.cells.items()} for t, r in rows.items()}
        repaints = []
        refresh = RowLines.refresh

        def record(lines, *regions, **kwargs):  # which rows' cells each refresh asks to repaint
            if not regions:
                repaints.append(("every row", "whole panel"))
            for region in regions:
                row, _ = lines._lines[region.y]
                spans = row.spans(lines.size.width, lines.layout_name)
                names = [name for name, (x, width, _) in spans.items() if (region.x, region.width) == (x, width)]
                repaints.extend((row.target, name) for name in names or ["whole row"])
            return refresh(lines, *regions, **kwargs)

        monkeypatch.setattr(RowLines, "refresh", record)
        await pilot.press("r")
        await wait_until(pilot, lambda: web.calls == 2 and api.calls == 2)
        await pilot.pause()
        after = {name: cell.text for name, cell in rows["web"].cells.items()}
        assert {n: t for n, t in after.items() if n != "spark"} == {n: t for n, t in before["web"].items() if n != "spark"}
        assert ("api", "badge") in repaints and ("api", "reason") in repaints
        assert {n for t, n in repaints if t == "web"} <= {"spark"}, "only the sparkline moves on an unchanged row"
        assert ("api", "whole row") not in repaints and ("every row", "whole panel") not in repaints, \
            "a changed cell repaints its own cells, not its row or the panel"
        assert ("api", "latency") not in repaints, "an unchanged cell must not repaint"


async def test_traffic_rows_show_ratio_p95_rate_and_no_data_is_not_zero():
    from launchdeck.tui.widgets.traffic import TrafficRow
    from tests.tui.helpers import app_with_traffic

    app = app_with_traffic()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.latest) == 8)
        rows = {t: r.plain() for t, r in app.dashboard.query_one("#traffic").rows.items()}
        assert "0.42%" in rows["api"] and "123ms" in rows["api"] and "41/s" in rows["api"] and "within thresholds" in rows["api"]
        assert "7.50%" in rows["payments"] and "> 5% for 6m" in rows["payments"]
        assert "no data" in rows["web"] and "0.00%" not in rows["web"] and "no traffic" in rows["web"]
        assert "scrape failed" in rows["search"]
        assert not any(c.isdigit() for c in app.dashboard.query_one("#traffic").border_subtitle)


async def test_notifications_are_plain_text_whoever_sends_them():
    """Config words like [[backups]] and file names like db_[daily].gz must print as they are."""
    app = app_with([FakeProbe("web")])
    async with app.run_test() as pilot:
        await pilot.press("b")  # no [[backups]] configured: the app says so
        app.dashboard.notify("db_[daily]_1.sql.gz: [/x] verified")  # a screen's notify passes markup=True
        await pilot.pause()
        shown = {n.message: n.markup for n in app._notifications}
    assert shown == {"no [[backups]] in the config": False, "db_[daily]_1.sql.gz: [/x] verified": False}


def test_the_inbox_posts_once_until_taken_and_keeps_the_newest_reading_of_each_target():
    from launchdeck.core.model import FixedClock, Reading, Verdict
    from launchdeck.engine.notices import ProblemNotice, ReadingNotice
    from launchdeck.engine.tracking import Track
    from launchdeck.tui.messages import NoticeInbox

    posted = []
    inbox = NoticeInbox(posted.append)
    at = FixedClock().now()

    def reading(target, ms):
        r = Reading("services", target, Status.OK, "", {"latency_seconds": ms / 1000}, at, 0.0)
        return ReadingNotice(r, Track(at, 0), Verdict.from_readings([r]))

    notices = [reading("web", 5), reading("api", 6), ProblemNotice("ledger", "disk full"), reading("web", 7)]
    for notice in notices:
        inbox.put(notice)
    assert len(posted) == 1  # one message waits in the app's queue, however many notices gather
    assert inbox.take() == [notices[1], notices[2], notices[3]]
    inbox.put(reading("web", 8))
    assert len(posted) == 2 and inbox.take()[0].reading.values["latency_seconds"] == 0.008


async def test_ctrl_c_says_how_to_quit_in_plain_words():
    app = app_with([FakeProbe("web")])
    async with app.run_test() as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert messages == ["Press q (or ctrl+q) to quit launchdeck"]
        assert app.is_running


async def test_a_failed_view_worker_is_told_and_kept_in_the_engine_event_log():
    app = app_with([FakeProbe("web")])

    async def broken():
        raise RuntimeError("disk on fire token=abc")

    async with app.run_test() as pilot:
        app.run_worker(broken(), name="export", exit_on_error=False)
        await wait_until(pilot, lambda: app._notifications)
        problems = [e for e in app.engine.events.since(0) if e.kind == "problem"]
    assert [n.title for n in app._notifications] == ["RuntimeError"]
    assert len(problems) == 1 and "export: disk on fire" in problems[0].text


def help_plain(app) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, file=open("/dev/null", "w"))
    from launchdeck.tui.screens.help import help_text

    screen = app.screen
    console.print(help_text(screen.sections, screen.actions, screen.panels))
    return console.export_text()


async def test_help_lists_every_key_of_the_screen_it_was_pressed_on_from_its_bindings():
    """Generated from the bindings: a key bound at run time is in the help; another screen's help
    has that screen's keys, not the dashboard's."""
    app = app_with(mixed_probes(), extra='[checklists]\nledger = "x.jsonl"\n')
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.latest) == 5)
        app.dashboard.query_one("#services")._bindings.bind("z", "app.bell", "Ring the bell (test key)")
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = help_plain(app)
        for meaning in ("Quit", "Refresh", "Checklists", "Backups", "Ring the bell (test key)", "Detail",
                        "All reasons", "Open checklists", "Timeline", "Wall", "Next row"):
            assert meaning in text, f"{meaning} missing from the help:\n{text}"
        await pilot.press("escape")
        await pilot.press("c")
        await wait_until(pilot, lambda: app.screen.id == "checklists-screen")
        checklist_screen = app.screen
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = help_plain(app)
        assert "Ring the bell (test key)" not in text and "All reasons" not in text, "not the dashboard's keys"
        own = [b.description for bs in checklist_screen._bindings.key_to_bindings.values() for b in bs
               if b.description and not b.system]
        assert own and all(d in text for d in own), "every key of the checklist screen"


async def test_a_new_crit_rings_the_bell_only_when_asked(monkeypatch):
    from launchdeck.core.config import parse_config
    from launchdeck.core.model import FixedClock
    from launchdeck.tui.app import make_app

    for bell, expected in (("", 0), ("bell = true\n", 1)):
        probe = FakeProbe("web", [Outcome(Status.OK, "fine"), Outcome(Status.CRIT, "refused"),
                                  Outcome(Status.CRIT, "refused")], interval=0.05)
        config = parse_config(f'[deck]\nname = "shop"\n{bell}[[services]]\nname = "web"\nurl = "http://127.0.0.1:9/"\n',
                              "test.toml", {})
        app = make_app(config, probes=[probe], clock=FixedClock())
        rung: list[int] = []
        monkeypatch.setattr(app, "bell", lambda rung=rung: rung.append(1))
        async with app.run_test() as pilot:
            await wait_until(pilot, lambda: probe.calls >= 4)
            await pilot.pause()
        assert len(rung) == expected, f"{bell or 'no bell'}: rang {len(rung)} times for one new crit"
        assert app.latest[("services", "web")].status is Status.CRIT


async def test_the_header_shows_a_clock_and_the_datas_age_warn_coloured_when_stale():
    app = app_with([FakeProbe("web")])
    async with app.run_test(size=(120, 40)) as pilot:
        header = app.dashboard.query_one(DeckHeader)
        await wait_until(pilot, lambda: app.latest)
        await pilot.pause()
        text = header.clock.render()
        assert "12:00 UTC · live" in text.plain and header.clock.display
        assert "warning" not in str(text.spans)
        app.clock.advance(2 * app.config.deck.refresh + 2)  # a reading is late: the seconds are counted
        text = header.clock.render()
        assert f"updated {2 * app.config.deck.refresh + 2:.0f}s ago" in text.plain and "warning" not in str(text.spans)
        app.clock.advance(app.config.deck.refresh)  # past three intervals: stale, and loud
        text = header.clock.render()
        assert "(stale)" in text.plain and "$text-warning" in str(text.spans)
        assert header.clock.region.right == header.region.right - 1, "at the right end, inside the padding"


async def test_the_header_clock_stops_while_another_screen_covers_the_dashboard():
    """DESIGN rule 7: no timer runs for a hidden screen."""
    app = app_with(mixed_probes(), extra='[checklists]\nledger = "x.jsonl"\n')
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.latest) == 5)
        header = app.dashboard.query_one(DeckHeader)
        assert header._timer is not None and header._timer._active.is_set()
        await pilot.press("c")
        await wait_until(pilot, lambda: app.screen.id == "checklists-screen")
        assert not header._timer._active.is_set(), "paused under the checklist screen"
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.dashboard)
        assert header._timer._active.is_set(), "ticking again"
