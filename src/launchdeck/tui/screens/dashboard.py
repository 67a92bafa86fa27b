"""The one screen that answers "is the launch healthy?": verdict, then a panel per source.

The screen's height is shared out here (`share`): every panel first gets the lines its worst row
needs (and a "+N more" line), then a line at a time round the panels until each shows all its rows
or the height is used up; what is left makes the last panel of each column taller, so no row of
the screen is blank. An unconfigured source is one line at the bottom. Two columns (services and
traffic; containers, backups and checklists) when both fit side by side with their sparklines.
"""

from __future__ import annotations

from typing import Callable, Iterable

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Resize
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer

from launchdeck.core.config import Config
from launchdeck.core.model import Reading, Verdict
from launchdeck.engine.tracking import Track
from launchdeck.tui.messages import RoomChanged
from launchdeck.tui.widgets.backups import BackupsPanel
from launchdeck.tui.widgets.checklists_panel import ChecklistsPanel, open_items_of
from launchdeck.tui.widgets.containers import ContainersPanel
from launchdeck.tui.widgets.header import DeckHeader, Freshness
from launchdeck.tui.widgets.placeholder import PanelPlaceholder
from launchdeck.tui.widgets.services import ServicesPanel
from launchdeck.tui.widgets.spark import threshold_scale
from launchdeck.tui.widgets.traffic import TrafficPanel
from launchdeck.tui.widgets.verdict import VerdictBar

WIDE_AT = 106  # inside a panel this wide (a 110-column screen): the wall's extra columns (health, network, older backups)
NARROW_BELOW = 92  # inside a panel narrower (an 80-column SSH session): sparklines give their room to the reasons
TWO_COLUMNS_AT = 200  # from here two columns of panels (95 columns inside each) keep their sparklines
FIXED_LINES = 3  # header, verdict, footer
LEFT, RIGHT = ("services", "traffic"), ("containers", "backups", "checklists")

ListPanel = ServicesPanel | TrafficPanel | ContainersPanel | BackupsPanel


def _slot_message(add: str) -> str:
    return f"not configured: add {add} to launchdeck.toml"


def share(height: int, panels: list[tuple[int, int, int]]) -> tuple[list[int], int]:
    """Lines each panel shows, and the height left over. `panels`: (least, wanted, chrome) each:
    the lines its worst rows need, the lines all its rows need, and its border's lines."""
    lines = [min(least, wanted) for least, wanted, _ in panels]
    spare = height - sum(lines) - sum(chrome for _, _, chrome in panels)
    while spare > 0:
        grew = False
        for i, (_, wanted, _) in enumerate(panels):
            if spare > 0 and lines[i] < wanted:
                lines[i] += 1
                spare -= 1
                grew = True
        if not grew:
            break
    return lines, max(0, spare)


def row_layout(width: int) -> str:
    """The columns a row shows inside a panel this wide (see widgets/rows.py LAYOUTS)."""
    return "wide" if width >= WIDE_AT else "narrow" if width < NARROW_BELOW else "normal"


class DashboardScreen(Screen):
    def __init__(self, config: Config, actions_enabled: bool, checklist_problem: str = "",
                 freshness: Freshness | None = None) -> None:
        super().__init__(id="dashboard")
        self.config = config
        self.actions_enabled = actions_enabled
        self.checklist_problem = checklist_problem
        self.freshness = freshness
        self._verdict_bar: VerdictBar | None = None
        self._panels: dict[str, ListPanel] = {}
        self._pending: dict[tuple[str, str], tuple[Reading, Track | None]] = {}
        self._pending_verdict: Verdict | None = None
        self._verifications: dict[tuple[str, str], str] = {}
        self._checklists_panel: ChecklistsPanel | None = None
        self._early_checklists: tuple | None = None
        self._fit_queued = False
        self._header_waiting = True  # the header says "waiting for data" until the first reading
        self.columns = 1

    def _panel_widgets(self) -> dict[str, Widget]:
        """One widget per panel slot: the panel itself when configured, else its one-line placeholder."""
        config = self.config
        widgets: dict[str, Widget] = {}
        if config.services:
            scales = {s.name: threshold_scale(s.latency_warn, s.latency_crit) for s in config.services}
            widgets["services"] = ServicesPanel([s.name for s in config.services], scales, id="services",
                                                classes="panel")
        else:
            widgets["services"] = PanelPlaceholder("Services", _slot_message("[[services]]"), id="services")
        if config.traffic:
            scales = {t.name: threshold_scale(t.error_ratio_warn, t.error_ratio_crit) for t in config.traffic}
            widgets["traffic"] = TrafficPanel([t.name for t in config.traffic], scales, id="traffic", classes="panel",
                                              windows={t.name: t.window for t in config.traffic
                                                       if t.source == "scrape"})
        else:
            widgets["traffic"] = PanelPlaceholder("Traffic", _slot_message("[prometheus] and [[traffic]]"),
                                                  id="traffic")
        if config.containers:
            widgets["containers"] = ContainersPanel([c.host for c in config.containers], id="containers",
                                                    classes="panel")
        else:
            widgets["containers"] = PanelPlaceholder("Containers", _slot_message("[[containers]]"), id="containers")
        if config.backups:
            widgets["backups"] = BackupsPanel([b.name for b in config.backups], id="backups", classes="panel")
        else:
            widgets["backups"] = PanelPlaceholder("Backups", _slot_message("[[backups]]"), id="backups")
        if self.checklist_problem:  # a broken checklist is news, not an absence: a panel of its own
            problem = ChecklistsPanel(id="checklists", classes="panel")
            problem.problem = self.checklist_problem
            widgets["checklists"] = problem
        elif config.checklists is None:
            widgets["checklists"] = PanelPlaceholder("Checklists", _slot_message("[checklists]"), id="checklists")
        else:
            widgets["checklists"] = ChecklistsPanel(id="checklists", classes="panel")
        return widgets

    def compose(self) -> ComposeResult:
        deck = self.config.deck
        yield DeckHeader(deck.name, deck.environment, deck.is_production, self.actions_enabled, self.freshness)
        yield VerdictBar(id="verdict")
        widgets = self._panel_widgets()
        shown = {name: w for name, w in widgets.items() if not isinstance(w, PanelPlaceholder)}
        with VerticalScroll(id="panels", can_focus=False):  # tab goes from the verdict to the panels
            with Horizontal(id="columns"):
                with Vertical(id="left", classes="column"):
                    yield from (shown[name] for name in LEFT if name in shown)
                with Vertical(id="right", classes="column"):
                    yield from (shown[name] for name in RIGHT if name in shown)
            yield from (w for w in widgets.values() if isinstance(w, PanelPlaceholder))
        yield Footer()

    def on_mount(self) -> None:
        self._verdict_bar = self.query_one(VerdictBar)
        self._panels = {name: panel for name in ("services", "traffic", "containers", "backups")
                        if isinstance(panel := self.query_one(f"#{name}"),
                                      (ServicesPanel, TrafficPanel, ContainersPanel, BackupsPanel))}
        found = self.query_one("#checklists")
        self._checklists_panel = found if isinstance(found, ChecklistsPanel) else None
        session = getattr(self.app, "checklists", None)
        if self._checklists_panel is not None and session is not None:
            self._checklists_panel.open_items = open_items_of(session)
        self._fit(self.app.size.width, self.app.size.height)
        self.show_verifications(self._verifications)
        if self._early_checklists is not None:
            self.show_checklists(self._early_checklists)
        pending, self._pending = self._pending, {}
        for reading, track in pending.values():
            self._route(reading, track)
        if self._pending_verdict is not None:
            self._verdict_bar.verdict = self._pending_verdict
            self._header_waiting = False

    def on_screen_suspend(self) -> None:
        self.query_one(DeckHeader).pause()

    def on_screen_resume(self) -> None:
        self.query_one(DeckHeader).resume()

    def on_resize(self, event: Resize) -> None:
        self._fit(event.size.width, event.size.height)

    def on_room_changed(self, event: RoomChanged) -> None:
        """A panel's rows changed in number (or it was expanded): share the height again, once per refresh."""
        event.stop()
        if not self._fit_queued:
            self._fit_queued = True
            self.call_after_refresh(self._refit)

    def _refit(self) -> None:
        self._fit_queued = False
        self._fit(self.app.size.width, self.app.size.height)

    def _columns(self) -> list[list[Widget]]:
        left = list(self.query_one("#left").children)
        right = list(self.query_one("#right").children)
        return [column for column in (left, right) if column]

    def _fit(self, width: int, height: int) -> None:
        """Columns, each panel's height and the row layout at this size."""
        columns = self._columns()
        two = width >= TWO_COLUMNS_AT and len(columns) == 2
        self.columns = 2 if two else 1
        self.query_one("#columns").set_class(not two, "-stacked")
        panel_width = (width - 1) // 2 if two else width
        for panel in self._panels.values():
            panel.set_layout(row_layout(panel_width - 4))  # inside the border and padding
        placeholders = len(self.query(PanelPlaceholder))
        room = max(0, height - FIXED_LINES - placeholders)
        for column in (columns if two else [[w for c in columns for w in c]]):
            self._share_column(column, room)

    def _share_column(self, column: list[Widget], room: int) -> None:
        chrome = [p.styles.gutter.height + _call(p, "extra_lines", 0) for p in column]
        wants = [(_call(p, "least_lines", 1), _call(p, "wanted_lines", 1), c) for p, c in zip(column, chrome)]
        wants = [(wanted if getattr(p, "expanded", False) else least, wanted, c)
                 for p, (least, wanted, c) in zip(column, wants)]
        lines, spare = share(room, wants)
        for i, (panel, count) in enumerate(zip(column, lines)):
            budget = None if count >= wants[i][1] and not getattr(panel, "expanded", False) else count
            if hasattr(panel, "set_budget"):
                panel.set_budget(budget)
            total = count + chrome[i] + (spare if i == len(column) - 1 else 0)
            if panel.styles.height is None or panel.styles.height.value != total:
                panel.styles.height = total

    def show_reading(self, reading: Reading, verdict: Verdict, track: Track | None = None) -> None:
        """Route a reading to its panel and refresh the verdict; before mount, hold the newest."""
        if self._verdict_bar is None:
            self._pending[reading.key] = (reading, track)
            self._pending_verdict = verdict
            return
        self._route(reading, track)
        self._verdict_bar.verdict = verdict
        if self._header_waiting:  # at once, not at the header's next tick
            self._header_waiting = False
            clock = self.query_one(DeckHeader).clock
            if clock is not None:
                clock.refresh()

    def redraw_history(self, history: Callable[[str, str], Iterable[Reading]]) -> None:
        """Every row's sparkline from `history(panel, target)` alone (a replay's cursor moved)."""
        for name, panel in self._panels.items():
            for target, row in getattr(panel, "rows", {}).items():
                row.redraw_history(history(name, target))

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


def _call(widget: Widget, name: str, default: int) -> int:
    method = getattr(widget, name, None)
    return method() if callable(method) else default
