"""LaunchdeckApp: composes the screens, runs one poll worker per probe, routes readings.

Everything external comes in through `make_app` (DESIGN rule 4): the CLI, the demo and the tests
build the app the same way, the tests with fake probes and a fixed clock.
"""

from __future__ import annotations

import asyncio
from typing import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from launchdeck.checklists.session import ChecklistSession
from launchdeck.core.config import Config
from launchdeck.core.model import Clock, Reading, Status, SystemClock, Verdict
from launchdeck.engine.polling import Probe, poll_forever
from launchdeck.probes import build_probes, close_probes
from launchdeck.core.redact import Scrubber
from launchdeck.tui.screens.checklist import ChecklistScreen
from launchdeck.tui.screens.dashboard import DashboardScreen
from launchdeck.tui.screens.help import HelpScreen
from launchdeck.tui.screens.backups import BackupsScreen
from launchdeck.tui.flows.signoff import SignoffFlow
from launchdeck.tui.flows.dump_check import VerifyFlow
from launchdeck.engine.tracking import Tracker
from launchdeck.tui.widgets.header import DeckHeader

LEDGER_POLL_SECONDS = 0.5  # another terminal's sign-off shows here within this (the bar is 1 s)


class ReadingArrived(Message, bubble=False):
    """A probe's newest reading. A newer one for the same target replaces an unprocessed older one."""

    def __init__(self, reading: Reading) -> None:
        super().__init__()
        self.reading = reading

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ReadingArrived) and message.reading.key == self.reading.key


class LaunchdeckApp(App[None]):
    CSS_PATH = "launchdeck.tcss"
    TITLE = "launchdeck"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("r", "refresh", "Refresh"),
        Binding("c", "checklists", "Checklists"),
        Binding("b", "backups", "Backups"),
    ]

    def __init__(self, config: Config, probes: list[Probe], clock: Clock, actions_enabled: bool,
                 checklists: ChecklistSession | None = None, checklist_problem: str = "") -> None:
        super().__init__()
        self.config = config
        self.probes = probes
        self.clock = clock
        self.actions_enabled = actions_enabled
        self.latest: dict[tuple[str, str], Reading] = {}
        self.tracker = Tracker()
        self.scrub = Scrubber(config.secrets)
        self._wakes: dict[str, asyncio.Event] = {}
        self.checklists = checklists
        self.dashboard = DashboardScreen(config, actions_enabled, checklist_problem)
        self.signoffs = SignoffFlow(self) if checklists else None
        self.verifier = VerifyFlow(self)
        self.title = f"launchdeck · {config.deck.name}"

    def on_mount(self) -> None:
        self.push_screen(self.dashboard)
        for probe in self.probes:
            name = f"{probe.panel}/{probe.target}"
            wake = self._wakes[name] = asyncio.Event()
            self.run_worker(
                poll_forever(probe, self._publish, clock=self.clock, scrub=self.scrub, wake=wake),
                name=name, group="probes", exit_on_error=False,
            )
        if self.checklists is not None:
            self.run_worker(self._watch_ledger(), name="ledger", group="ledger", exit_on_error=False)
        for probe in self.probes:
            if hasattr(probe, "history"):
                self.run_worker(self._backfill(probe), name=f"backfill:{probe.target}", group="backfill",
                                exit_on_error=False)

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = True) -> None:
        """Every launchdeck notification is plain text: it carries file names, errors and config words
        like "[[backups]]", which as markup would vanish or crash the app. Screens' and widgets'
        notify() pass markup=True explicitly, so the default alone would not do: it is ignored."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def _publish(self, reading: Reading) -> None:
        self.post_message(ReadingArrived(reading))

    def on_reading_arrived(self, message: ReadingArrived) -> None:
        reading = message.reading
        self.latest[reading.key] = reading
        self.dashboard.show_reading(reading, Verdict.from_readings(self.latest.values()), self.tracker.observe(reading))
        if self.checklists is not None:
            changed = self.checklists.observe(reading, self.clock.now())
            if changed:  # the panel's counts move only with an item's evidence
                self.show_checklist_changes(changed)
        if reading.panel == "backups" and isinstance(self.screen, BackupsScreen):
            self.screen.show_reading(reading)

    async def _backfill(self, probe: Probe) -> None:
        """The last 30 minutes from the source, so sparklines are full at once (best effort)."""
        try:
            async with asyncio.timeout(max(probe.timeout * 3, 5.0)):
                points = await probe.history(1800)
        except Exception as error:  # shown, not raised: live polling goes on regardless
            self.notify(self.scrub(f"{probe.target}: no history to backfill: {type(error).__name__}: {error}"),
                        severity="warning", timeout=8)
            return
        self.dashboard.backfill(probe.target, points)

    async def _watch_ledger(self) -> None:
        """Records from this and other terminals, read back from the file: the board shows what is on disk."""
        warning = await asyncio.to_thread(self.checklists.open)
        if warning:
            self.notify(str(warning), title="ledger", severity="warning", timeout=30)
        first = True
        while True:
            changed = await self.checklists.sync()
            if changed or first:  # twice a second: only a new record costs more than a stat and a read
                self.show_checklist_changes(changed)
                first = False
            if self.verifier.absorb(self.checklists.board):
                self.show_verifications()
            await asyncio.sleep(LEDGER_POLL_SECONDS)

    def show_checklist_changes(self, keys: list[tuple[str, str]]) -> None:
        self.dashboard.show_checklists(self.checklists)  # an equal summary does not repaint
        screen = self.screen
        if isinstance(screen, ChecklistScreen):
            screen.refresh_items(keys)

    def action_checklists(self) -> None:
        if self.checklists is None:
            self.notify("no [checklists] in the config", severity="warning", timeout=4)
        elif not isinstance(self.screen, ChecklistScreen):
            deck = self.config.deck
            header = DeckHeader(deck.name, deck.environment, deck.is_production, self.actions_enabled)
            self.push_screen(ChecklistScreen(self.checklists, header))

    def action_backups(self) -> None:
        if not self.config.backups:
            self.notify("no [[backups]] in the config", severity="warning", timeout=4)
        elif not isinstance(self.screen, BackupsScreen):
            deck = self.config.deck
            header = DeckHeader(deck.name, deck.environment, deck.is_production, self.actions_enabled)
            readings = [r for key, r in self.latest.items() if key[0] == "backups"]
            self.push_screen(BackupsScreen(header, readings, self.verifier.results, self.verifier.summaries))

    def verify_newest(self) -> None:
        self.verifier.newest()

    def verify_backup(self, source: str, name: str) -> None:
        self.verifier.start(source, name)

    def show_verifications(self) -> None:
        self.dashboard.show_verifications(self.verifier.results)
        if isinstance(self.screen, BackupsScreen):
            self.screen.show_results(self.verifier.results, self.verifier.summaries)

    def request_signoff(self, state, kind: str) -> None:
        if self.signoffs is not None:
            self.signoffs.start(state, kind)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A poll loop that died is a bug; say so on its row instead of freezing it silently."""
        worker = event.worker
        if event.state is not WorkerState.ERROR or worker.group not in ("probes", "ledger"):
            return
        error = worker.error
        if worker.group == "ledger":
            self.notify(self.scrub(f"ledger watcher stopped: {type(error).__name__}: {error}"),
                        severity="error", timeout=30)
            return
        panel, _, target = worker.name.partition("/")
        reason = self.scrub(f"poller stopped: {type(error).__name__}: {error}")
        self.notify(f"{worker.name}: {reason}", severity="error", timeout=10)
        self.post_message(ReadingArrived(Reading(panel, target, Status.UNKNOWN, reason, {},
                                                 self.clock.now(), 0.0)))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_refresh(self) -> None:
        for wake in self._wakes.values():
            wake.set()
        self.notify("polling every probe now", timeout=2)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield SystemCommand("Refresh now", "Poll every probe immediately", self.action_refresh)
        yield SystemCommand("Help", "Keys and what each panel means", self.action_help)
        yield from super().get_system_commands(screen)

    async def on_unmount(self) -> None:
        for failure in await close_probes(self.probes):
            self.log.warning(self.scrub(failure))


def make_app(config: Config, probes: list[Probe] | None = None, clock: Clock | None = None,
             allow_actions: bool = False, checklists: ChecklistSession | None = None) -> LaunchdeckApp:
    """The one factory: CLI, demo and tests all build the app here."""
    problem = ""
    if checklists is None and config.checklists is not None:
        from launchdeck.checklists.parser import ChecklistError
        from launchdeck.checklists.signing import ledger_path, load_checklists

        try:
            checklists = ChecklistSession(load_checklists(config), ledger_path(config))
        except ChecklistError as error:  # the dashboard stays up and says what is wrong, and where
            problem = str(error)
    return LaunchdeckApp(
        config,
        build_probes(config) if probes is None else probes,
        clock or SystemClock(),
        actions_enabled=allow_actions or config.actions.enabled,
        checklists=checklists,
        checklist_problem=problem,
    )


__all__ = ["LaunchdeckApp", "ReadingArrived", "make_app"]
