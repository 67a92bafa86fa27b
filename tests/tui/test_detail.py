"""Enter on any row opens its detail (full reason, last readings with times, its own events); enter on
the verdict lists every reason, each opening its detail. Keyboard first; the mouse does the same."""

from __future__ import annotations

from textual.widgets import OptionList, Static

from launchdeck.core.model import Outcome, Status
from launchdeck.tui.screens.detail import DetailScreen, ReasonsScreen
from launchdeck.tui.widgets.verdict import VerdictBar
from tests.fakes import FakeProbe
from tests.tui.helpers import app_with, mixed_probes, wait_until

LONG = "HTTP 503 from the upstream load balancer after 3 retries; body: " + "x" * 150 + " END-OF-REASON"


def detail_text(app) -> str:
    return app.screen.query_one("#detail", Static).render().plain


async def test_enter_on_a_row_opens_its_detail_with_full_reason_readings_and_only_its_events():
    probes = [FakeProbe("web"), FakeProbe("checkout", [Outcome(Status.OK, "HTTP 200 in 4ms"),
                                                       Outcome(Status.CRIT, LONG, {"http_status": 503,
                                                                                   "latency_seconds": 0.48})],
                                          interval=0.05)]
    app = app_with(probes)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.latest.get(("services", "checkout")) is not None
                         and app.latest[("services", "checkout")].status is Status.CRIT)
        panel = app.dashboard.query_one("#services")
        panel.focus()
        await pilot.press("down")  # web, then checkout
        assert panel.lines.cursor_row().target == "checkout"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailScreen))
        text = detail_text(app)
        assert "END-OF-REASON" in text, "the full reason, not the row's cut-off one"
        assert "latency_seconds" in text and "480ms" in text, "values in human units"
        readings = text.split("Last readings", 1)[1].split("Events", 1)[0]
        assert "12:00:00" in readings and "✖ crit" in readings and "● ok" in readings, "readings with their times"
        events = text.split("Events", 1)[1]
        assert "breach" in events and "ok → crit" in events
        assert "web" not in events, "only this target's events"
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.dashboard)


async def test_enter_on_the_verdict_lists_every_reason_and_each_opens_its_detail():
    app = app_with(mixed_probes())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.latest) == 5)
        assert "(+3 more)" in app.dashboard.query_one(VerdictBar).render().plain
        app.dashboard.query_one(VerdictBar).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ReasonsScreen))
        options = app.screen.query_one(OptionList)
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert len(prompts) == 4, "every reason, not the first and a count"
        assert ["checkout" in prompts[0] or "search" in prompts[0], "auth" in prompts[2], "payments" in prompts[3]] \
            == [True, True, True], "worst first: crit, unknown, warn"
        options.highlighted = 3
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert app.screen.target == "payments" and "slow (≥ 500ms)" in detail_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ReasonsScreen))


async def test_the_mouse_opens_the_same_detail_and_the_verdicts_reasons():
    app = app_with(mixed_probes())
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.latest) == 5)
        lines = app.dashboard.query_one("#services").lines
        y = lines.shown.index(lines.rows[2])  # checkout
        await pilot.click(lines, offset=(20, y))
        assert lines.focused and lines.cursor_row().target == "checkout"
        await pilot.click(lines, offset=(20, y))
        await wait_until(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert app.screen.target == "checkout"
        await pilot.press("escape")
        await pilot.click(VerdictBar)
        await wait_until(pilot, lambda: isinstance(app.screen, ReasonsScreen))


async def test_the_palette_reaches_every_screen_and_every_targets_detail():
    app = app_with(mixed_probes(), extra='[checklists]\nledger = "x.jsonl"\n')
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.latest) == 5)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for screen in ("Dashboard", "Help", "Checklists", "Backups", "Go / No-Go reasons", "Timeline", "Wall"):
            assert screen in titles, f"no palette entry for {screen}"
        assert "Detail: services/auth" in titles
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Detail: services/auth")
        command.callback()
        await wait_until(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert app.screen.target == "auth"
        next(c for c in app.get_system_commands(app.screen) if c.title == "Dashboard").callback()
        await wait_until(pilot, lambda: app.screen is app.dashboard)


async def test_the_keyboard_alone_reaches_a_rows_detail_from_start_up():
    """tab from the verdict (focused at start) lands on the first panel, not on the scrolling area."""
    app = app_with(mixed_probes())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.latest) == 5)
        assert isinstance(app.focused, VerdictBar)
        await pilot.press("tab", "down", "down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert app.screen.target == app.dashboard.query_one("#services").lines.cursor_row().target
