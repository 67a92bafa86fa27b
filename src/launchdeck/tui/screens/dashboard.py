"""The one screen that answers "is the launch healthy?": verdict, then a slot per panel."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer

from launchdeck.core.config import Config
from launchdeck.core.model import Reading, Verdict
from launchdeck.tui.widgets.backups import BackupsPanel
from launchdeck.tui.widgets.checklists_panel import ChecklistsPanel
from launchdeck.tui.widgets.containers import ContainersPanel
from launchdeck.tui.widgets.header import DeckHeader
from launchdeck.tui.widgets.placeholder import PanelPlaceholder
from launchdeck.engine.tracking import Track
from launchdeck.tui.widgets.services import ServicesPanel
from launchdeck.tui.widgets.traffic import TrafficPanel
from launchdeck.tui.widgets.verdict import VerdictBar

WIDE_AT = 110  # columns from which panels sit side by side
NARROW_BELOW = 100  # below this (an 80-column SSH session) sparklines give their room to the reasons


def _slot_message(add: str) -> str:
    return f"not configured: add {add} to launchdeck.toml"


class DashboardScreen(Screen):
    def __init__(self, config: Config, actions_enabled: bool, checklist_problem: str = "") -> None:
        super().__init__(id="dashboard")
        self.config = config
        self.actions_enabled = actions_enabled
        self.checklist_problem = checklist_problem
        self._verdict_bar: VerdictBar | None = None
        self._panels: dict[str, ServicesPanel | TrafficPanel | ContainersPanel | BackupsPanel] = {}
        self._pending: dict[tuple[str, str], tuple[Reading, Track | None]] = {}
        self._pending_verdict: Verdict | None = None
        self._verifications: dict[tuple[str, str], str] = {}
        self._checklists_panel: ChecklistsPanel | None = None
        self._early_checklists: tuple | None = None

    def compose(self) -> ComposeResult:
        deck = self.config.deck
        yield DeckHeader(deck.name, deck.environment, deck.is_production, self.actions_enabled)
        yield VerdictBar(id="verdict")
        with VerticalScroll(id="panels"):
            services = [s.name for s in self.config.services]
            if services:
                yield ServicesPanel(services, id="services", classes="panel")
            else:
                yield PanelPlaceholder("Services", _slot_message("[[services]]"), id="services",
                                       classes="panel")
            config = self.config
            if config.traffic:
                yield TrafficPanel([t.name for t in config.traffic], id="traffic", classes="panel")
            else:
                yield PanelPlaceholder("Traffic", _slot_message("[prometheus] and [[traffic]]"),
                                       id="traffic", classes="panel")
            if config.containers:
                yield ContainersPanel([c.host for c in config.containers], id="containers", classes="panel")
            else:
                yield PanelPlaceholder("Containers", _slot_message("[[containers]]"), id="containers",
                                       classes="panel")
            if config.backups:
                yield BackupsPanel([b.name for b in config.backups], id="backups", classes="panel")
            else:
                yield PanelPlaceholder("Backups", _slot_message("[[backups]]"), id="backups", classes="panel")
            if config.checklists is None or self.checklist_problem:
                message = self.checklist_problem or _slot_message("[checklists]")
                yield PanelPlaceholder("Checklists", message, id="checklists", classes="panel")
            else:
                yield ChecklistsPanel(id="checklists", classes="panel")
        yield Footer()

    def on_mount(self) -> None:
        self._verdict_bar = self.query_one(VerdictBar)
        self._panels = {name: panel for name in ("services", "traffic", "containers", "backups")
                        if isinstance(panel := self.query_one(f"#{name}"),
                                      (ServicesPanel, TrafficPanel, ContainersPanel, BackupsPanel))}
        self._fit(self.app.size.width)
        self.show_verifications(self._verifications)
        found = self.query_one("#checklists")
        self._checklists_panel = found if isinstance(found, ChecklistsPanel) else None
        if self._early_checklists is not None:
            self.show_checklists(self._early_checklists)
        pending, self._pending = self._pending, {}
        for reading, track in pending.values():
            self._route(reading, track)
        if self._pending_verdict is not None:
            self._verdict_bar.verdict = self._pending_verdict

    def on_resize(self, event: Resize) -> None:
        self._fit(event.size.width)

    def _fit(self, width: int) -> None:
        """Panels side by side on the wall, and the columns each row shows at this width."""
        panels = self.query_one("#panels")
        wide, narrow = width >= WIDE_AT, width < NARROW_BELOW
        panels.set_class(wide, "-wide")
        panels.set_class(narrow, "-narrow")
        layout = "wide" if wide else "narrow" if narrow else "normal"
        for panel in self._panels.values():
            panel.set_layout(layout)

    def show_reading(self, reading: Reading, verdict: Verdict, track: Track | None = None) -> None:
        """Route a reading to its panel and refresh the verdict; before mount, hold the newest."""
        if self._verdict_bar is None:
            self._pending[reading.key] = (reading, track)
            self._pending_verdict = verdict
            return
        self._route(reading, track)
        self._verdict_bar.verdict = verdict

    def backfill(self, target: str, points: list) -> None:
        panel = self._panels.get("traffic")
        if isinstance(panel, TrafficPanel) and target in panel.rows:
            panel.rows[target].backfill(points)

    def show_verifications(self, results: dict[tuple[str, str], str]) -> None:
        self._verifications = results  # kept for on_mount when it comes before the panels exist
        panel = self._panels.get("backups")
        if isinstance(panel, BackupsPanel):
            panel.show_results(results)

    def show_checklists(self, summary: tuple) -> None:
        """The engine's checklist summary: ((phase, done, total), ...), failing evidence, waiting evidence."""
        panel = self._checklists_panel  # found once: a DOM query here cost 3 ms on every reading
        if panel is None:
            self._early_checklists = summary if self._verdict_bar is None else None  # shown on mount
            return
        panel.summary = summary

    def _route(self, reading: Reading, track: Track | None) -> None:
        panel = self._panels.get(reading.panel)
        if panel is not None:
            panel.show(reading, track)
