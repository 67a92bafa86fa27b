"""The checklist screen: phases as tabs with progress, keys to sign, unsign, waive, filter, jump.

The screen never writes the ledger itself: it asks the app, which signs through the session and
shows an item as signed only once the record is on disk. Its warning area says what the board
cannot show as items: a ledger whose chain breaks (from which line, and the repair command), a
torn tail set aside, a file gone, the author's problems, records placed on no item or on several.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Input, ProgressBar, Static, TabbedContent, TabPane

from launchdeck.checklists.session import ChecklistSession, Key
from launchdeck.checklists.state import ItemState
from launchdeck.tui.messages import SignoffRequested
from launchdeck.tui.palette import CRIT, MUTED, WARN, styled
from launchdeck.tui.widgets.checklist_items import ItemList
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
    ChecklistScreen #problems { display: none; height: auto; max-height: 8; padding: 0 1; overflow-y: auto; }
    ChecklistScreen #problems.-shown { display: block; }
    ChecklistScreen ProgressBar { padding: 0 1; height: 1; }
    ChecklistScreen TabbedContent { height: 1fr; }
    ChecklistScreen TabPane { padding: 0; }
    ChecklistScreen #detail { height: auto; max-height: 5; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, session: ChecklistSession, header: DeckHeader) -> None:
        super().__init__(id="checklists-screen")
        self.session = session
        self._header = header
        self._filter = ""
        self._generation = session.generation

    def compose(self) -> ComposeResult:
        yield self._header
        yield Input(placeholder="filter items (escape clears)", id="filter")
        yield Static("", id="problems")
        with TabbedContent(id="phases"):
            for phase in self.session.board.phases():
                with TabPane(self._tab_title(phase), id=f"tab-{phase}"):
                    with Vertical():
                        yield ProgressBar(total=1, show_eta=False, id=f"progress-{phase}")
                        yield ItemList(self.session, phase, id=f"list-{phase}")
        yield Static("", id="detail")
        yield Footer()

    def _tab_title(self, phase: str) -> str:
        done, total = self.session.board.progress(phase)
        return f"{PHASE_TITLES[phase]} {done}/{total}"

    def on_mount(self) -> None:
        for phase in self.session.board.phases():
            self._update_progress(phase)
        self._show_problems()
        if self.session.board.phases():
            self._list().focus()

    def on_screen_resume(self) -> None:
        """Back from a modal: notices that came meanwhile went to the dashboard only."""
        if self.session.generation != self._generation:
            self.refresh_items([])
        else:
            self._show_problems()

    # -- updates pushed by the app
    def refresh_items(self, keys: list[Key]) -> None:
        if self.session.generation != self._generation:
            self._generation = self.session.generation
            self._rebuild()
            return
        states = self.session.board.states
        phases = {states[key].item.phase for key in keys if key in states}
        for phase in phases:
            self._update_progress(phase)
            self.query_one(f"#list-{phase}", ItemList).refresh_keys(keys)
        self._show_problems()
        self._show_detail()

    def _rebuild(self) -> None:
        """A new board (a repaired ledger read from its start, an edited file reloaded): every list
        takes its items again; new or vanished phases rebuild the tabs."""
        shown = [pane.id.removeprefix("tab-") for pane in self.query(TabPane) if pane.id]
        if shown != self.session.board.phases():
            self.run_worker(self._replace_tabs(), group="checklist-tabs", exclusive=True)
            return
        for listing in self.query(ItemList):
            listing.reload()
        for phase in shown:
            self._update_progress(phase)
        self._show_problems()
        self._show_detail()

    async def _replace_tabs(self) -> None:
        try:
            await self._build_tabs()
        except NoMatches:  # the screen was closed (or the app quit) while the tabs were being built
            if self.is_attached and self.query("#problems"):
                raise

    async def _build_tabs(self) -> None:
        old = self.query_one(TabbedContent)
        active = old.active
        await old.remove()
        tabs = TabbedContent(id="phases")
        await self.mount(tabs, before=self.query_one("#detail"))
        for phase in self.session.board.phases():
            listing = ItemList(self.session, phase, id=f"list-{phase}")
            done, total = self.session.board.progress(phase)
            progress = ProgressBar(total=max(total, 1), show_eta=False, id=f"progress-{phase}")
            progress.progress = done
            await tabs.add_pane(TabPane(self._tab_title(phase), Vertical(progress, listing), id=f"tab-{phase}"))
            listing.filter(self._filter)
        if active and tabs.query(f"#{active}"):
            tabs.active = active
        self._show_problems()
        self._show_detail()
        if self.session.board.phases():
            self._list().focus()

    def _update_progress(self, phase: str) -> None:
        done, total = self.session.board.progress(phase)
        self.query_one(f"#progress-{phase}", ProgressBar).update(total=max(total, 1), progress=done)
        tabs = self.query_one(TabbedContent)
        tabs.get_tab(f"tab-{phase}").label = self._tab_title(phase)

    def _show_problems(self) -> None:
        """What the author should fix and records that found no item or several: said, never hidden."""
        session = self.session
        board = session.board
        lines = [styled(line, CRIT) for line in (session.integrity_problem(),) if line]
        lines += [styled(line, WARN) for line in (session.torn_tail(), *session.notes, *session.gone.values()) if line]
        texts = [problem for checklist in board.checklists for problem in checklist.problems]
        if board.ambiguous:
            texts.append(f"{len(board.ambiguous)} ledger record(s) could be for several identical items: "
                         "shown on each as a claim, counted on none")
        if board.orphans:
            texts.append(f"{len(board.orphans)} ledger record(s) match no item any more (the item was removed "
                         "or reworded beyond recognition): see `launchdeck report`")
        box = self.query_one("#problems", Static)
        lines += [styled(line, WARN) for line in texts]
        box.update(Content("\n").join(lines))
        box.set_class(bool(lines), "-shown")

    # -- selection
    def _list(self) -> ItemList:
        return self.query_one(f"#list-{self.query_one(TabbedContent).active.removeprefix('tab-')}", ItemList)

    def selected(self) -> ItemState | None:
        return self._list().selected() if self.session.board.phases() else None

    def on_item_list_highlighted(self, event: ItemList.Highlighted) -> None:
        self._show_detail()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._list().focus()
        self._show_detail()

    def _show_detail(self) -> None:
        """The selected item in full (its line may be cut): where it is, evidence, what changed, claims."""
        state = self.selected()
        detail = self.query_one("#detail", Static)
        if state is None:
            detail.update("")
            return
        parts = [styled(" › ".join(state.item.section) or state.checklist, MUTED),
                 styled(f"  ({state.checklist}:{state.item.line})", MUTED), "\n", styled(state.item.text)]
        if state.item.verify:
            evidence = self.session.evidence.get((state.checklist, state.item.id))
            shown = f" → {evidence.state}: {evidence.detail}" if evidence else ""
            parts += ["\n", styled(f"evidence: {state.item.verify}{shown}")]
        if state.done:
            note = f" — {state.note}" if state.note else ""
            parts += ["\n", styled(f"{state.status} by {state.by} at {state.at}{note}")]
        if state.changed_since_signed:
            parts += ["\n", styled(f"changed since signed: {state.changes()}; sign again to confirm", WARN)]
        for claim in state.claims:
            parts += ["\n", styled(f"claim: {claim}", CRIT)]
        detail.update(Content.assemble(*parts))

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
        if not phases:
            return
        start = phases.index(tabs.active.removeprefix("tab-"))
        for phase in phases[start:] + phases[:start]:
            listing = self.query_one(f"#list-{phase}", ItemList)
            first = listing.cursor + 1 if phase == phases[start] else 0
            for index in range(first, len(listing.keys)):
                if not listing.state_at(index).done:
                    tabs.active = f"tab-{phase}"
                    listing.move_to(index)
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
        self._filter = event.value.strip()
        for listing in self.query(ItemList):
            listing.filter(self._filter)

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
