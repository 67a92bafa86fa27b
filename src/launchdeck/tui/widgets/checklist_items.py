"""Checklist rows: mark, text, live evidence, who signed and when. One row repaints on its own."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widgets import ListItem, Static

from launchdeck.checklists.session import LiveEvidence
from launchdeck.checklists.state import ItemState
from launchdeck.tui.palette import CRIT, INFO, MUTED, OK, UNKNOWN, WARN, styled

MARKS = {"open": ("[ ]", MUTED), "signed": ("[✓]", OK), "waived": ("[~]", WARN)}
# the live verdict sits right after the box, so it is never cut off at the end of a long item
EVIDENCE = {"pass": ("✓", OK), "fail": ("✗", CRIT), "pending": ("…", WARN), "unknown": ("?", UNKNOWN)}
CHANGED_STYLE = f"bold {WARN}"


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
    return Content.assemble(*parts)


class ItemRow(ListItem):
    """One checklist item. `state` and `evidence` are set by the screen; equal values do not repaint."""

    DEFAULT_CSS = """
    ItemRow { height: auto; padding: 0 1; }
    ItemRow > Static { height: auto; }
    """

    state: reactive[ItemState | None] = reactive(None, layout=True)
    evidence: reactive[LiveEvidence | None] = reactive(None, layout=True)

    def __init__(self, state: ItemState, evidence: LiveEvidence | None) -> None:
        super().__init__()
        self.key = (state.checklist, state.item.id)
        self._label = Static(row_text(state, evidence))
        self.set_reactive(ItemRow.state, state)
        self.set_reactive(ItemRow.evidence, evidence)

    def compose(self):
        yield self._label

    def watch_state(self) -> None:
        self._repaint()

    def watch_evidence(self) -> None:
        self._repaint()

    def _repaint(self) -> None:
        if self.state is not None:
            self._label.update(row_text(self.state, self.evidence))

    def plain(self) -> str:
        return row_text(self.state, self.evidence).plain if self.state else ""
