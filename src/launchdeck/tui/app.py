"""LaunchdeckApp: a view of the engine. It composes the screens, routes the engine's notices to them,
and turns key presses into requests to the engine; it never runs a probe itself.

Everything external comes in through `make_app` (DESIGN rule 4): the CLI, the demo and the tests
build the app the same way, the tests with fake probes and a fixed clock.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import threading
from datetime import datetime
from functools import partial
from typing import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from launchdeck.checklists.session import ChecklistSession
from launchdeck.core.config import Config
from launchdeck.core.errors import title_of
from launchdeck.core.plain import visible, visible_lines
from launchdeck.core.model import Clock, Reading, Status, SystemClock
from launchdeck.engine.engine import Engine
from launchdeck.engine.notices import (BackfillNotice, ChecklistNotice, ProblemNotice, ReadingNotice,
                                       VerificationNotice)
from launchdeck.probes import build_probes
from launchdeck.probes.base import Probe
from launchdeck.tui.flows.actions import KEYS as ACTION_KEYS, MEANING as ACTION_MEANING, ActionsFlow
from launchdeck.tui.flows.signoff import SignoffFlow
from launchdeck.tui.palette import no_colour, register_themes
from launchdeck.tui.messages import (BackupsListRequested, DetailRequested, EngineNotices, NoticeInbox,
                                     ReasonsRequested, SignoffRequested, VerifyRequested)
from launchdeck.tui.screens.backups import BackupsScreen
from launchdeck.tui.screens.checklist import ChecklistScreen
from launchdeck.tui.screens.dashboard import DashboardScreen
from launchdeck.tui.screens.detail import DetailScreen, ReasonsScreen
from launchdeck.tui.screens.help import HelpScreen, screen_keys
from launchdeck.tui.widgets.header import DeckHeader

ENGINE_STOP_SECONDS = 1.0  # quitting waits at most this for the engine's thread (it is a daemon)


class LaunchdeckApp(App[None]):
    CSS_PATH = "launchdeck.tcss"
    TITLE = "launchdeck"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("r", "refresh", "Refresh"),
        Binding("c", "checklists", "Checklists"),
        Binding("b", "backups", "Backups"),
        Binding("t", "timeline", "Timeline"),  # every event of the engine's log (tui/screens/timeline.py)
        Binding("w", "wall", "Wall"),  # the war-room wall (tui/screens/wall.py), read-only
    ]

    def __init__(self, config: Config, engine: Engine, actions_enabled: bool, checklist_problem: str = "") -> None:
        super().__init__()
        register_themes(self)  # before anything sets App.theme
        no_colour(self)
        self.config = config
        self.engine = engine
        self.clock = engine.clock
        self.actions_enabled = actions_enabled
        self.checklists = engine.checklists
        self.latest: dict[tuple[str, str], Reading] = {}  # what this view has been told, by target
        self.verifications = VerificationNotice.of({}, {})
        self._inbox = NoticeInbox(self.post_message)
        self.newest_at: datetime | None = None  # the newest reading's time: the header's "updated 3s ago"
        self.dashboard = DashboardScreen(config, actions_enabled, checklist_problem, freshness=self._freshness)
        self.signoffs = SignoffFlow(self) if self.checklists else None
        # deploy / rollback / restore: keys exist only when actions are enabled and configured
        self.actions = ActionsFlow(self)
        for name in self.actions.names:
            self.bind(ACTION_KEYS[name], f"start_action('{name}')", description=name.capitalize())
        self.title = f"launchdeck · {config.deck.name}"

    def first_screen(self) -> Screen:
        """The screen the app opens on (the wall app opens on the wall)."""
        return self.dashboard

    def on_mount(self) -> None:
        self.push_screen(self.first_screen())
        self.engine.subscribe(self._inbox.put)  # called on the engine's thread; post_message is thread-safe
        # the flight recorder ([deck] record): readings and events to a file, on a thread of its own
        from launchdeck.engine.recorder import start_recorder

        self.recorder = None if getattr(self.engine, "replaying", False) else \
            start_recorder(self.config, self.engine, self._inbox.put)
        # prepared now (imports, clients) but polling only after the first paint: see Engine.start
        self.engine.start(wait=False, hold=True)
        self.call_after_refresh(self.engine.release)
        # start-up's objects (imports, the first screen) never become garbage: freezing them keeps full
        # collections short, and a full collection pauses the engine's thread too
        self.call_after_refresh(gc.freeze)
        if "deploy" in self.actions.names:  # a deploy's watch window too short to see a sustained breach
            from launchdeck.core.config_actions import watch_warnings

            for words in watch_warnings(self.config):
                self.notify(words, title="watch window", severity="warning", timeout=20)

    async def on_unmount(self) -> None:
        """A running action is cancelled first (its step's group killed, its finish recorded, the lock
        released: its thread is not a daemon, so the process waits for that). The engine is stopped (its
        command probes' process groups ended) from a thread of its own: not asyncio's executor, joined at
        exit, and not the engine's pool, whose threads may all be stuck in ledger writes on a disk that
        stopped answering (quitting would then never stop it)."""
        self.actions.stop_for_exit(0)
        if getattr(self, "recorder", None) is not None:
            self.recorder.close(1.0)  # what is queued is written; never longer than that
        stopped: concurrent.futures.Future[None] = concurrent.futures.Future()

        def stop() -> None:
            try:
                self.engine.stop(ENGINE_STOP_SECONDS)
            finally:
                stopped.set_result(None)

        threading.Thread(target=stop, name="launchdeck-engine-stop", daemon=True).start()
        try:
            await asyncio.wait_for(asyncio.wrap_future(stopped), ENGINE_STOP_SECONDS + 0.5)
        except TimeoutError:
            self.log.warning("engine still stopping; left to exit with the process")

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = True) -> None:
        """Every launchdeck notification is plain text: it carries file names, errors and config words
        like "[[backups]]", which as markup would vanish or crash the app. Screens' and widgets'
        notify() pass markup=True explicitly, so the default alone would not do: it is ignored.
        Control characters are shown, not obeyed (launchdeck.core.plain)."""
        super().notify(visible_lines(message), title=visible(title), severity=severity, timeout=timeout, markup=False)

    def action_help_quit(self) -> None:
        """ctrl+c does not quit a Textual app: say how to, in plain words (Textual's own hint is markup,
        which our plain-text notifications showed as `Press [b]ctrl+q[/b]`)."""
        self.notify("Press q (or ctrl+q) to quit launchdeck", title="Do you want to quit?")

    # ------------------------------------------------------------------ from the engine
    def on_engine_notices(self, _message: EngineNotices) -> None:
        if not self.screen_stack:  # quitting: the screens are gone and a late notice has nowhere to go
            return
        for notice in self._inbox.take():
            self._show(notice)

    def _show(self, notice) -> None:
        if isinstance(notice, ReadingNotice):
            reading = notice.reading
            before = self.latest.get(reading.key)
            self.latest[reading.key] = reading
            if self.newest_at is None or reading.observed_at > self.newest_at:
                self.newest_at = reading.observed_at
            if self.config.deck.bell and reading.status is Status.CRIT and (before is None or before.status is not Status.CRIT):
                self.bell()  # [deck] bell: a target newly crit
            if isinstance(self.screen, DetailScreen):
                self.screen.show_reading(reading)
            self.dashboard.show_reading(reading, notice.verdict, notice.track)
            if reading.panel == "backups" and isinstance(self.screen, BackupsScreen):
                self.screen.show_reading(reading)
        elif isinstance(notice, ChecklistNotice):
            self.dashboard.show_checklists(notice.summary)  # an equal summary does not repaint
            if isinstance(self.screen, ChecklistScreen):
                self.screen.refresh_items(list(notice.keys))
        elif isinstance(notice, VerificationNotice):
            self.verifications = notice
            self.dashboard.show_verifications(notice.results)
            if isinstance(self.screen, BackupsScreen):
                self.screen.show_results(notice.results, notice.summaries)
            if notice.message:
                self.notify(notice.message, severity="error" if notice.failed else "information", timeout=10)
        elif isinstance(notice, BackfillNotice):
            self.dashboard.backfill(notice.target, list(notice.points))
        elif isinstance(notice, ProblemNotice):
            self.notify(notice.text, title=notice.title, severity=notice.severity, timeout=30)

    # ------------------------------------------------------------------ from screens and widgets
    def on_signoff_requested(self, message: SignoffRequested) -> None:
        if self.signoffs is not None:
            self.signoffs.start(message.state, message.kind)

    def on_verify_requested(self, message: VerifyRequested) -> None:
        if message.source is None:
            if not self.engine.verify_newest():
                self.notify("nothing to verify: no dump directory has a newest backup yet", severity="warning",
                            timeout=5)
            return
        refusal = self.engine.verify_dump(message.source, message.name or "")
        if refusal:
            self.notify(refusal, severity="warning", timeout=5)

    def on_detail_requested(self, message: DetailRequested) -> None:
        """Enter (or a click) on a row, or on one of the verdict's reasons: that target's detail."""
        self.push_screen(DetailScreen(self.engine, message.panel, message.target))

    def on_reasons_requested(self, _message: ReasonsRequested) -> None:
        self.action_reasons()

    def action_reasons(self) -> None:
        """Every reason of the Go / No-Go verdict, each opening its target's detail."""
        if not isinstance(self.screen, ReasonsScreen):
            self.push_screen(ReasonsScreen(self.engine))

    def action_dashboard(self) -> None:
        """Back to the dashboard from any screen above it (the palette's "Dashboard")."""
        while len(self.screen_stack) > 1 and self.screen is not self.dashboard:
            self.pop_screen()

    def _freshness(self) -> tuple[datetime, datetime | None, float]:
        """For the headers' clock: now, the newest reading's time, the refresh interval."""
        return self.clock.now(), self.newest_at, self.config.deck.refresh

    def on_backups_list_requested(self, _message: BackupsListRequested) -> None:
        self.action_backups()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one handler for this view's own workers: a failure is told and kept in the engine's
        event log with the engine's own problems, never lost."""
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            text = self.engine.record_problem(title_of(error), f"{event.worker.name or event.worker.group}: {error}")
            self.notify(text, title=title_of(error), severity="error", timeout=30)

    # ------------------------------------------------------------------ keys
    def _header(self) -> DeckHeader:
        deck = self.config.deck
        return DeckHeader(deck.name, deck.environment, deck.is_production, self.actions_enabled, self._freshness)

    def action_checklists(self) -> None:
        if self.checklists is None:
            self.notify("no [checklists] in the config", severity="warning", timeout=4)
        elif not isinstance(self.screen, ChecklistScreen):
            self.push_screen(ChecklistScreen(self.checklists, self._header()))

    def action_timeline(self) -> None:
        """`t`: every event of the engine's log in order, filtered, following new ones."""
        from launchdeck.tui.screens.timeline import TimelineScreen

        if not isinstance(self.screen, TimelineScreen):
            self.push_screen(TimelineScreen(self.engine))

    def action_wall(self) -> None:
        """`w`: the wall over the dashboard (esc returns); no action key reaches past it."""
        from launchdeck.tui.screens.wall import open_wall

        open_wall(self)

    def action_backups(self) -> None:
        if not self.config.backups:
            self.notify("no [[backups]] in the config", severity="warning", timeout=4)
        elif not isinstance(self.screen, BackupsScreen):
            readings = [r for key, r in self.latest.items() if key[0] == "backups"]
            self.push_screen(BackupsScreen(self._header(), readings, self.verifications.results,
                                           self.verifications.summaries))

    def action_help(self) -> None:
        """Every key of the screen `?` was pressed on, read from its bindings (screen_keys). One help
        screen per kind of screen for the app's life: built on the first `?` there, shown again as it
        is (a screen's keys do not change while the app runs), so later presses skip composing it."""
        if isinstance(self.screen, HelpScreen):
            return
        screen = self.screen
        name = f"help-{type(screen).__name__}"
        if not self.is_screen_installed(name):
            title = "launchdeck help" if screen is self.dashboard else f"launchdeck help · {type(screen).__name__}"
            self.install_screen(HelpScreen(screen_keys(screen, self), self.actions.keys_help(), title,
                                           panels=screen is self.dashboard), name)
        self.push_screen(name)

    def action_start_action(self, name: str) -> None:
        """D, R, S and the palette: the confirmation first; refused unless enabled and configured."""
        self.actions.start(name)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start_action":  # read-only: no key, no palette entry, no markup link reaches one
            return bool(parameters) and parameters[0] in self.actions.names
        return True

    async def action_quit(self) -> None:
        if self.actions.running:
            self.notify("an action is running: x on its screen cancels it; quit when it has ended",
                        severity="warning", timeout=6)
            return
        await super().action_quit()

    def action_refresh(self) -> None:
        self.engine.refresh()
        self.notify("polling every probe now", timeout=2)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield SystemCommand("Refresh now", "Poll every probe immediately", self.action_refresh)
        yield SystemCommand("Help", "Every key of this screen, and what each panel means (?)", self.action_help)
        yield SystemCommand("Dashboard", "Back to the dashboard from any screen", self.action_dashboard)
        yield SystemCommand("Go / No-Go reasons", "Every reason of the verdict; each opens its detail",
                            self.action_reasons)
        for panel, target in sorted(self.latest):
            yield SystemCommand(f"Detail: {panel}/{target}", "Full reason, last readings and events",
                                partial(self.post_message, DetailRequested(panel, target)))
        yield SystemCommand("Checklists", "Sign, unsign and waive launch checklist items", self.action_checklists)
        yield SystemCommand("Backups", "Recent backups of every source; verify a dump", self.action_backups)
        yield SystemCommand("Timeline", "Every event of the launch in order, filtered (t)", self.action_timeline)
        yield SystemCommand("Wall", "The Go / No-Go wall for the war room's screen, read-only (w)", self.action_wall)
        for name in self.actions.names:
            yield SystemCommand(name.capitalize(), f"{ACTION_MEANING[name]} ({ACTION_KEYS[name]})",
                                partial(self.action_start_action, name))
        yield from super().get_system_commands(screen)


def make_app(config: Config, probes: list[Probe] | None = None, clock: Clock | None = None,
             allow_actions: bool = False, checklists: ChecklistSession | None = None,
             app_class: type[LaunchdeckApp] | None = None) -> LaunchdeckApp:
    """The one factory: CLI, demo, the wall and tests all build the app here."""
    problem = ""
    if checklists is None and config.checklists is not None:
        from launchdeck.checklists.parser import ChecklistError
        from launchdeck.checklists.signing import ledger_path, load_checklists

        try:
            checklists = ChecklistSession(load_checklists(config), ledger_path(config))
        except ChecklistError as error:  # the dashboard stays up and says what is wrong, and where
            problem = str(error)
    engine = Engine(config, build_probes(config) if probes is None else probes, clock or SystemClock(),
                    checklists=checklists,
                    mode=config.deck.engine if probes is None and clock is None else "thread")  # given ones: here
    return (app_class or LaunchdeckApp)(config, engine, actions_enabled=allow_actions or config.actions.enabled,
                                        checklist_problem=problem)


__all__ = ["LaunchdeckApp", "make_app"]
