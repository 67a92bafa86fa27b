"""A phase's checklist items as one virtualised list: one line per item, only visible lines drawn.

A widget per item cost ~4 ms to mount and as much to remove: 9 s to open and 15 s to quit at
2,000 items, minutes at 50,000. `ItemList` is one Line-API widget (ScrollView): it keeps the keys
of its items, draws the ~40 lines on screen from the board's states, and caches each drawn line
until that item's state or evidence object changes (the board replaces, never mutates, them).
A list reads the board it was built from until `reload()`: the engine may swap in a new board
(a repaired ledger, an edited file) while a frame is drawn, and its keys are not this list's.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.binding import Binding
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip
from textual.visual import Visual

from launchdeck.checklists.session import ChecklistSession, Key, LiveEvidence
from launchdeck.checklists.state import ItemState
from launchdeck.tui.palette import CRIT, INFO, MUTED, OK, UNKNOWN, WARN, styled
from launchdeck.tui.widgets.cursor_list import CursorList

MARKS = {"open": ("[ ]", MUTED), "signed": ("[✓]", OK), "waived": ("[~]", WARN)}
# the live verdict sits right after the box, so it is never cut off at the end of a long item
EVIDENCE = {"pass": ("✓", OK), "fail": ("✗", CRIT), "pending": ("…", WARN), "unknown": ("?", UNKNOWN)}
CHANGED_STYLE = f"bold {WARN}"
_CACHE_LIMIT = 2000  # drawn lines kept: a few screens' worth, whatever the checklist's size


def row_text(state: ItemState, evidence: LiveEvidence | None) -> Content:
    """The item's text, who signed it and the note are user text: styled as data, never markup."""
    mark, style = MARKS[state.status]
    parts: list[Content | str] = ["  " * state.item.level, styled(mark, style)]
    if state.item.verify:
        glyph, estyle = EVIDENCE.get(evidence.state if evidence else "unknown", EVIDENCE["unknown"])
        parts.append(styled(f" {glyph}", estyle))
    parts += [" ", styled(state.item.text, MUTED if state.done else "")]
    if state.item.checked and not state.done:
        parts.append(styled("  [x] in file", f"{MUTED} italic"))
    if state.done:
        when = (state.at or "")[:16].replace("T", " ")
        parts.append(styled(f"  {state.status} by {state.by} {when}", INFO))
        if state.note:
            parts.append(styled(f" — {state.note}", f"{INFO} {MUTED}"))
    if state.changed_since_signed:
        parts.append(styled("  changed since signed", CHANGED_STYLE))
        if state.signed_text is not None and state.signed_text != state.item.text:
            parts.append(styled(f" (was “{state.signed_text}”)", WARN))
    if state.claims:
        parts.append(styled(f"  ? {len(state.claims)} sign-off(s) for an identical item: which one?", CHANGED_STYLE))
    elif state.item.ambiguous and not state.done:
        parts.append(styled("  identical twin: give it an <!-- id: --> to sign", WARN))
    return Content.assemble(*parts)


class ItemList(CursorList, can_focus=True):
    """The items of one phase; `cursor` is the index of the highlighted one among those shown."""

    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(0)", "First", show=False),
        Binding("end", "edge(1)", "Last", show=False),
    ]
    COMPONENT_CLASSES = {"item-list--cursor"}
    DEFAULT_CSS = """
    ItemList { height: 1fr; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; overflow-x: hidden; }
    ItemList > .item-list--cursor { background: $accent 30%; }
    ItemList:focus > .item-list--cursor { background: $accent 45%; }
    """

    class Highlighted(Message):
        """The cursor moved to another item (or the list's items changed)."""

        def __init__(self, item_list: ItemList) -> None:
            super().__init__()
            self.item_list = item_list

    def __init__(self, session: ChecklistSession, phase: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.session, self.phase = session, phase
        self.cursor = 0
        self._needle = ""
        self._lines: dict[Key, tuple[ItemState, LiveEvidence | None, int, bool, Strip]] = {}
        self._read_board()

    def _read_board(self) -> None:
        self.board = self.session.board
        self.all_keys: list[Key] = [(s.checklist, s.item.id) for s in self.board.phase(self.phase)]
        self._folded = [self.board.states[key].item.text.casefold() for key in self.all_keys]
        self.keys: list[Key] = self._matching()
        self.virtual_size = Size(0, len(self.keys))

    def _matching(self) -> list[Key]:
        if not self._needle:
            return list(self.all_keys)
        return [k for k, folded in zip(self.all_keys, self._folded) if self._needle in folded]

    def reload(self) -> None:
        """The session has a new board: take its items, keep the filter and, where it still is, the item."""
        current = self.keys[self.cursor] if 0 <= self.cursor < len(self.keys) else None
        self._lines.clear()
        self._read_board()
        index = self.keys.index(current) if current in self.keys else min(self.cursor, max(len(self.keys) - 1, 0))
        self.cursor = index
        self.refresh()
        self.post_message(self.Highlighted(self))

    # -- what is shown
    def state_at(self, index: int) -> ItemState | None:
        return self.board.states[self.keys[index]] if 0 <= index < len(self.keys) else None

    def selected(self) -> ItemState | None:
        return self.state_at(self.cursor)

    def plain(self, index: int) -> str:
        """The line for the item at `index` as text (what a test or a screen reader reads)."""
        state = self.state_at(index)
        return row_text(state, self.session.evidence.get(self.keys[index])).plain if state else ""

    def filter(self, text: str) -> None:
        """Show only items whose text contains `text` (case-insensitive); an empty text shows all."""
        self._needle = text.casefold()
        self.keys = self._matching()
        self.virtual_size = Size(0, len(self.keys))
        self.cursor = 0
        self.scroll_to(y=0, animate=False)
        self.refresh()
        self.post_message(self.Highlighted(self))

    def refresh_keys(self, keys: list[Key]) -> None:
        """States of these items changed: redraw (a cached line is redrawn only if its state changed)."""
        self.refresh()

    # -- the cursor (CursorList moves it)
    def line_count(self) -> int:
        return len(self.keys)

    def cursor_moved(self) -> None:
        self.post_message(self.Highlighted(self))

    def select_key(self, key: Key) -> bool:
        try:
            index = self.keys.index(key)
        except ValueError:
            return False
        self.move_to(index)
        return True

    # -- drawing
    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if not 0 <= index < len(self.keys):
            return Strip.blank(width, self.rich_style)
        key = self.keys[index]
        state, evidence = self.board.states[key], self.session.evidence.get(key)
        cursor = index == self.cursor
        cached = self._lines.get(key)
        if cached and cached[0] is state and cached[1] is evidence and cached[2] == width and cached[3] == cursor:
            return cached[4]
        style = self.get_visual_style("item-list--cursor") if cursor else self.visual_style
        strips = Visual.to_strips(self, row_text(state, evidence), width, 1, style, pad=True)
        strip = strips[0] if strips else Strip([Segment(" " * width, style.rich_style)], width)
        if len(self._lines) >= _CACHE_LIMIT:
            self._lines.clear()
        self._lines[key] = (state, evidence, width, cursor, strip)
        return strip
