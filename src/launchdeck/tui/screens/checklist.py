"""The checklist screen: phases as tabs with progress, keys to sign, unsign, waive, filter, jump.

The screen never writes the ledger itself: it asks the app, which signs through the session and
shows an item as signed only once the record is on disk.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, ListView, ProgressBar, Static, TabbedContent, TabPane

from launchdeck.checklists.session import ChecklistSession, Key
from launchdeck.checklists.state import ItemState
from launchdeck.tui.messages import SignoffRequested
from launchdeck.tui.widgets.checklist_items import ItemRow
from launchdeck.tui.widgets.header import DeckHeader

PHASE_TITLES = {"pre-launch": "Pre-launch", "launch-day": "Launch day", "post-launch": "Post-launch",
                "other": "Other"}


class ChecklistScreen(Screen):
    BINDINGS = [
        Binding("space,enter", "sign", "Sign"),
        Binding("u", "unsign", "Unsign"),
        Binding("w", "waive", "Waive"),
        Binding("n", "next_open", "Next open"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("right_square_bracket", "phase(1)", "Next phase", key_display="]"),
        Binding("left_square_bracket", "phase(-1)", "Prev phase", key_display="["),
        Binding("escape", "back", "Dashboard"),
    ]
    DEFAULT_CSS = """
    ChecklistScreen #filter { display: none; height: 3; }
    ChecklistScreen #filter.-shown { display: block; }
    ChecklistScreen ProgressBar { padding: 0 1; height: 1; }
    ChecklistScreen TabbedContent { height: 1fr; }
    ChecklistScreen TabPane { padding: 0; }
    ChecklistScreen ListView { height: 1fr; }
    ChecklistScreen ItemRow.--highlight { background: $accent 30%; }
    ChecklistScreen #detail { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, session: ChecklistSession, header: DeckHeader) -> None:
        super().__init__(id="checklists-screen")
        self.session = session
        self._header = header
        self._rows: dict[Key, ItemRow] = {}
        self._filter = ""

    def compose(self) -> ComposeResult:
        yield self._header
        yield Input(placeholder="filter items (escape clears)", id="filter")
        with TabbedContent(id="phases"):
            for phase in self.session.board.phases():
                with TabPane(self._tab_title(phase), id=f"tab-{phase}"):
                    with Vertical():
                        yield ProgressBar(total=1, show_eta=False, id=f"progress-{phase}")
                        yield ListView(*self._rows_for(phase), id=f"list-{phase}")
        yield Static("", id="detail")
        yield Footer()

    def _rows_for(self, phase: str) -> list[ItemRow]:
        rows = []
        for state in self.session.board.phase(phase):
            key = (state.checklist, state.item.id)
            row = self._rows[key] = ItemRow(state, self.session.evidence.get(key))
            rows.append(row)
        return rows

    def _tab_title(self, phase: str) -> str:
        done, total = self.session.board.progress(phase)
        return f"{PHASE_TITLES[phase]} {done}/{total}"

    def on_mount(self) -> None:
        for phase in self.session.board.phases():
            self._update_progress(phase)
        self._list().focus()

    # -- updates pushed by the app
    def refresh_items(self, keys: list[Key]) -> None:
        phases = set()
        for key in keys:
            row = self._rows.get(key)
            if row is None:
                continue
            row.state = self.session.board.states[key]
            row.evidence = self.session.evidence.get(key)
            phases.add(row.state.item.phase)
        for phase in phases:
            self._update_progress(phase)
        self._show_detail()

    def _update_progress(self, phase: str) -> None:
        done, total = self.session.board.progress(phase)
        self.query_one(f"#progress-{phase}", ProgressBar).update(total=max(total, 1), progress=done)
        tabs = self.query_one(TabbedContent)
        tabs.get_tab(f"tab-{phase}").label = self._tab_title(phase)

    # -- selection
    def _list(self) -> ListView:
        return self.query_one(f"#list-{self.query_one(TabbedContent).active.removeprefix('tab-')}", ListView)

    def selected(self) -> ItemState | None:
        row = self._list().highlighted_child
        return row.state if isinstance(row, ItemRow) else None

    def on_list_view_highlighted(self, event: ListView.Highlighted) -> None:
        self._show_detail()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._list().focus()
        self._show_detail()

    def _show_detail(self) -> None:
        state = self.selected()
        detail = self.query_one("#detail", Static)
        if state is None:
            detail.update("")
            return
        line = Text(" › ".join(state.item.section) or state.checklist, style="dim")
        evidence = self.session.evidence.get((state.checklist, state.item.id))
        if state.item.verify:
            line.append(f"\nevidence: {state.item.verify}")
            if evidence:
                line.append(f" → {evidence.state}: {evidence.detail}")
        detail.update(line)

    # -- actions
    def action_sign(self) -> None:
        if (state := self.selected()) is not None:
            self.post_message(SignoffRequested(state, "sign"))

    def action_unsign(self) -> None:
        if (state := self.selected()) is not None:
            self.post_message(SignoffRequested(state, "unsign"))

    def action_waive(self) -> None:
        if (state := self.selected()) is not None:
            self.post_message(SignoffRequested(state, "waive"))

    def action_next_open(self) -> None:
        tabs = self.query_one(TabbedContent)
        phases = self.session.board.phases()
        start = phases.index(tabs.active.removeprefix("tab-"))
        for phase in phases[start:] + phases[:start]:
            listing = self.query_one(f"#list-{phase}", ListView)
            rows = [r for r in listing.children if isinstance(r, ItemRow) and r.display]
            first = listing.index + 1 if phase == phases[start] and listing.index is not None else 0
            for index, row in enumerate(rows):
                if index >= first and not row.state.done:
                    tabs.active = f"tab-{phase}"
                    listing.index = listing.children.index(row)
                    listing.focus()
                    return
        self.notify("every item is signed or waived", timeout=3)

    def action_phase(self, step: int) -> None:
        tabs = self.query_one(TabbedContent)
        phases = self.session.board.phases()
        current = phases.index(tabs.active.removeprefix("tab-"))
        tabs.active = f"tab-{phases[(current + step) % len(phases)]}"

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-shown")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "filter":
            return
        self._filter = event.value.strip().lower()
        for row in self._rows.values():
            row.display = not self._filter or self._filter in row.state.item.text.lower()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self._list().focus()

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_class("-shown"):
            box.value = ""
            box.remove_class("-shown")
            self._list().focus()
            return
        self.app.pop_screen()
