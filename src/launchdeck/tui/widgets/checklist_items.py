"""Checklist rows: mark, text, live evidence, who signed and when. One row repaints on its own."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import ListItem, Static

from launchdeck.checklists.session import LiveEvidence
from launchdeck.checklists.state import ItemState

MARKS = {"open": ("[ ]", ""), "signed": ("[✓]", "green"), "waived": ("[~]", "yellow")}
# the live verdict sits right after the box, so it is never cut off at the end of a long item
EVIDENCE = {"pass": ("✓", "green"), "fail": ("✗", "bold red"), "pending": ("…", "yellow"), "unknown": ("?", "magenta")}


def row_text(state: ItemState, evidence: LiveEvidence | None) -> Text:
    mark, style = MARKS[state.status]
    text = Text("  " * state.item.level)
    text.append(mark, style=style or "dim")
    if state.item.verify:
        glyph, estyle = EVIDENCE.get(evidence.state if evidence else "unknown", EVIDENCE["unknown"])
        text.append(f" {glyph}", style=estyle)
    text.append(" ")
    text.append(state.item.text, style="dim" if state.done else "")
    if state.item.checked and not state.done:
        text.append("  [x] in file", style="dim italic")
    if state.done:
        when = (state.at or "")[:16].replace("T", " ")
        text.append(f"  {state.status} by {state.by} {when}", style="cyan")
        if state.note:
            text.append(f" — {state.note}", style="cyan dim")
    if state.changed_since_signed:
        text.append("  changed since signed", style="bold yellow")
    return text


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
