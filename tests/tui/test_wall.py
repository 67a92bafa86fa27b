"""The wall (tui/screens/wall.py) driven by Pilot: read-only whatever the flags, loud when the data
stops, pages that cycle. Fed from a LiveState and a FixedClock (no network, no clock), or from the
dashboard's own engine with fake probes."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from textual.app import App
from textual.widgets import Static

from launchdeck.core.config import parse_config
from launchdeck.core.model import FixedClock, Outcome, Reading, Status
from launchdeck.engine.events import EventLog
from launchdeck.engine.state import LiveState
from launchdeck.probes.traffic.judge import TrafficJudge, TrafficSample
from launchdeck.tui.palette import register_themes
from launchdeck.tui.screens.wall import PAGE_SECONDS, WallScreen, WallSource
from tests.fakes import FakeProbe
from tests.tui.helpers import wait_until

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
STEP = 5.0  # seconds between readings, as a 5 s refresh takes them
MINUTES = 6

DECK = """
[deck]
name = "shop"
environment = "production"
refresh = "5s"
[[services]]
name = "web"
url = "http://127.0.0.1:9/web"
[[services]]
name = "api"
url = "http://127.0.0.1:9/api"
[[services]]
name = "payments"
url = "http://127.0.0.1:9/payments"
[[traffic]]
name = "checkout"
source = "scrape"
scrape_url = "http://127.0.0.1:9/metrics"
[[traffic]]
name = "search"
source = "scrape"
scrape_url = "http://127.0.0.1:9/metrics"
[[containers]]
[[backups]]
name = "main_db"
path = "/srv/backups"
"""
PHASES = (("pre-launch", 20, 20), ("launch-day", 3, 9), ("post-launch", 0, 4))


class WallOnly(App[None]):
    """Just the wall screen over a WallSource, with launchdeck's themes."""

    TITLE = "launchdeck wall"

    def __init__(self, source: WallSource) -> None:
        super().__init__()
        register_themes(self)
        self.source = source

    def on_mount(self) -> None:
        self.push_screen(WallScreen(self.source, closable=False))


def _reading(panel: str, target: str, status: Status, reason: str, at: datetime, **values) -> Reading:
    return Reading(panel, target, status, reason, values, at, 0.01)


def launch_history() -> tuple[LiveState, FixedClock, object]:
    """Six minutes of a launch: checkout's error ratio breaches at 1:30 and stays past 5 % (judged by
    the real TrafficJudge, so its `for` rules apply), api flaps, a worker restarts, the backup ages."""
    config = parse_config(DECK, "wall.toml", {})
    state = LiveState(EventLog())
    judges = {t.name: TrafficJudge(t) for t in config.traffic}
    for step in range(int(MINUTES * 60 / STEP) + 1):
        at = T0 + timedelta(seconds=step * STEP)
        minute = step * STEP / 60
        ratio = 0.004 + 0.0005 * (step % 3) if minute < 1.5 else 0.072 + 0.004 * (step % 4)
        p95 = 0.18 + 0.02 * (step % 5) + (0.15 if 3 <= minute < 4 else 0.0)
        for name, sample in (("checkout", TrafficSample(ratio, 0.21, 38.0 + step % 4)),
                             ("search", TrafficSample(0.001, p95, 12.0))):
            outcome = judges[name].judge(sample, at)
            state.observe(_reading("traffic", name, outcome.status, outcome.reason, at, **outcome.values))
        state.observe(_reading("services", "web", Status.OK, "HTTP 200 in 12ms", at, latency_seconds=0.012))
        api_down = minute >= 2 and int((minute - 2) * 2) % 2 == 0  # down 30 s, up 30 s, ... from minute 2
        state.observe(_reading("services", "api", Status.CRIT if api_down else Status.OK,
                               "HTTP 503, expected 200" if api_down else "HTTP 200 in 20ms", at))
        state.observe(_reading("services", "payments", Status.OK, "HTTP 200 in 31ms", at))
        restarting = minute >= 5
        for name in ("web", "db", "worker"):
            bad = restarting and name == "worker"
            state.observe(_reading("containers", f"local/{name}", Status.CRIT if bad else Status.OK,
                                   "restarting (restarted 4x)" if bad else "running", at, name=name,
                                   state="restarting" if bad else "running"))
        if step % 12 == 0:  # backups are listed once a minute
            age = 22 * 3600.0 + step * STEP
            state.observe(_reading("backups", "main_db", Status.WARN, f"newest backup {age / 3600:.0f}h old "
                                   "(warn past 20h48m)", at, age_seconds=age, max_age_seconds=26 * 3600.0))
    clock = FixedClock(at=T0 + timedelta(minutes=MINUTES, seconds=2))
    return state, clock, config


def source_of(state: LiveState, clock: FixedClock, config, checklists=PHASES) -> WallSource:
    return WallSource(config, clock, lambda: state.snapshot(clock.now()), state.history, lambda: checklists)


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def test_stale_data_turns_loud_and_recovers():
    state, clock, config = launch_history()
    app = WallOnly(source_of(state, clock, config))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        wall = app.screen
        assert not wall.has_class("-stale") and not wall.query_one("#wall-stale").display
        assert "updated 2s ago" in text_of(app, "#wall-clock")
        band = wall.query_one("#wall-band")
        verdict_colour = band.styles.background
        clock.advance(60)  # no reading for a minute: the engine stopped, or the link did
        wall.tick()
        await pilot.pause()
        assert wall.has_class("-stale") and wall.query_one("#wall-stale").display
        loud = text_of(app, "#wall-stale")
        assert "█" in loud and "no new reading for 1m02s (expected within 15s)" in loud
        assert "updated 1m02s ago" in text_of(app, "#wall-clock")
        assert band.styles.background != verdict_colour  # a frozen verdict keeps its word, not its colour
        state.observe(_reading("services", "web", Status.OK, "HTTP 200", clock.now()))  # data again
        wall.tick()
        await pilot.pause()
        assert not wall.has_class("-stale") and not wall.query_one("#wall-stale").display
        assert band.styles.background == verdict_colour


async def test_reasons_that_do_not_fit_cycle_in_pages():
    config = parse_config(DECK, "wall.toml", {})
    state = LiveState(EventLog())
    for i in range(30):
        state.observe(_reading("services", f"svc{i:02d}", Status.CRIT, f"refused #{i:02d}", T0))
    clock = FixedClock(at=T0 + timedelta(seconds=1))
    app = WallOnly(source_of(state, clock, config))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.screen.tick()
        first = text_of(app, "#wall-reasons")
        assert "page 1/" in first and "refused #00" in first
        clock.advance(PAGE_SECONDS)
        app.screen.tick()
        second = text_of(app, "#wall-reasons")
        assert "page 2/" in second and "refused #00" not in second
        shown = [line for line in second.splitlines() if "refused #" in line]
        assert shown and all(int(line[-2:]) >= len([ln for ln in first.splitlines() if "refused #" in ln])
                             for line in shown)


def actions_config(tmp_path: Path, marker: Path) -> str:
    argv = [sys.executable, "-c", "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text('ran')", str(marker)]
    steps = "".join(f'[actions.{name}]\nargv = {json.dumps(argv)}\nconfirm = "yes"\nwatch = "0s"\n'
                    for name in ("deploy", "rollback"))
    return (f'[deck]\nname = "shop"\nenvironment = "production"\n'
            f'[[services]]\nname = "web"\nurl = "http://127.0.0.1:9/health"\n'
            f"[actions]\nenabled = true\n{steps}")


async def test_the_wall_over_an_armed_dashboard_ignores_every_action_key(tmp_path):
    from launchdeck.tui.app import make_app

    marker = tmp_path / "ran"
    config = parse_config(actions_config(tmp_path, marker), str(tmp_path / "launchdeck.toml"), {})
    app = make_app(config, probes=[FakeProbe("web", [Outcome(Status.CRIT, "HTTP 503")])], clock=FixedClock(),
                   allow_actions=True)
    assert app.actions.names  # armed: D and R would open a confirmation on the dashboard
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.latest)
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, WallScreen))
        wall = app.screen
        for key in ("D", "R", "S", "enter", "y", "ctrl+p", "c", "b", "r", "question_mark", "space"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is wall, f"{key} left the wall for {app.screen!r}"
        assert not marker.exists() and app.actions.run is None
        assert "NO-GO" not in text_of(app, "#wall-band")  # drawn in the block font, not as a word
        assert "✖ services/web crit: HTTP 503" in text_of(app, "#wall-reasons")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.dashboard)
        assert app.use_command_palette  # the palette is back on the dashboard


async def test_launchdeck_wall_has_no_actions_whatever_the_config(tmp_path):
    from launchdeck.tui.wall_app import make_wall_app

    marker = tmp_path / "ran"
    config = parse_config(actions_config(tmp_path, marker), str(tmp_path / "launchdeck.toml"), {})
    app = make_wall_app(config, probes=[FakeProbe("web", [Outcome(Status.OK, "HTTP 200 in 3ms")])],
                        clock=FixedClock())
    assert not app.actions.names  # built with actions off, whatever [actions] says
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, WallScreen)
                         and app.screen.summary.verdict.word == "go")
        for key in ("D", "R", "escape", "w", "ctrl+p"):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, WallScreen)
        assert not marker.exists()
        assert "every check is ok" in text_of(app, "#wall-reasons")
        await pilot.press("q")
    assert app.return_code == 0


async def test_peoples_text_on_the_wall_is_shown_not_obeyed():
    config = parse_config(DECK, "wall.toml", {})
    state = LiveState(EventLog())
    state.observe(_reading("services", "web", Status.CRIT, "[bold red]boom[/] \x1b[2J\u202e", T0))
    clock = FixedClock(at=T0)
    app = WallOnly(source_of(state, clock, config))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        shown = text_of(app, "#wall-reasons")
        assert "[bold red]boom[/] ␛[2J\\u202e" in shown and "\x1b" not in shown


def test_launchdeck_wall_with_a_bad_config_says_where_in_one_line(tmp_path):
    from click.testing import CliRunner

    from launchdeck.cli import main

    bad = tmp_path / "launchdeck.toml"
    bad.write_text('[deck]\nrefresh = "soon"\n')
    result = CliRunner().invoke(main, ["wall", "--config", str(bad)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and str(bad) in lines[0] and "deck.refresh" in lines[0] and "Traceback" not in result.output


async def test_w_on_the_dashboard_shows_its_checklist_progress(deck):
    from launchdeck.tui.app import make_app

    _, config = deck  # CHECKLIST: pre-launch has 2 items, none signed
    app = make_app(config, probes=[FakeProbe("web", [Outcome(Status.OK, "HTTP 200 in 3ms")])], clock=FixedClock())
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.latest)
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, WallScreen))
        wall = app.screen

        def progress() -> str:
            wall.tick()
            figure = wall.summary.figure("checklist")
            return f"{figure.value} {figure.status.value}" if figure else ""

        await wait_until(pilot, lambda: progress() == "0/2 pre-launch warn")
        await pilot.pause()
        assert "pre-launch" in text_of(app, "#fig-checklist")
