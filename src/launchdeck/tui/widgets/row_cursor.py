"""Keys, clicks and focus of a panel whose rows one `RowLines` draws (widgets/rows.py): the cursor,
enter for a row's detail, and the "+N more" line that shows every row and folds them again."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.binding import Binding

from launchdeck.tui.messages import DetailRequested, RoomChanged

if TYPE_CHECKING:
    from launchdeck.tui.widgets.rows import RowLines


class RowCursor:
    """Keys, clicks and focus of a panel drawn by one RowLines (`self.lines`): up/down (j/k) move the
    cursor, enter opens the row's detail, or on a "+N more" line shows every row (and fewer again).
    At either end of the rows, up/down move to the previous or next panel, so the arrows alone
    walk the whole dashboard."""

    CURSOR_BINDINGS = [Binding("down,j", "cursor(1)", "Next row", show=False),
                       Binding("up,k", "cursor(-1)", "Previous row", show=False),
                       Binding("enter", "open_row", "Detail")]
    lines: RowLines
    expanded = False

    def action_cursor(self, step: int) -> None:
        if not self.lines.move(step):
            self.screen.focus_next() if step > 0 else self.screen.focus_previous()  # type: ignore[attr-defined]

    def action_open_row(self) -> None:
        row = self.lines.cursor_row()
        if row is self.lines.more:
            self.expanded = not self.expanded
            self.post_message(RoomChanged())  # type: ignore[attr-defined]
        elif row is not None:
            self.post_message(DetailRequested(self.panel_name, row.target))  # type: ignore[attr-defined]

    @property
    def panel_name(self) -> str:
        return str(self.id)  # type: ignore[attr-defined]

    def on_focus(self) -> None:
        self.lines.set_focused(True)

    def on_blur(self) -> None:
        self.lines.set_focused(False)

    def clicked(self, index: int, chain: int) -> None:
        """A click puts the cursor on the row; a click on the cursor's row (or a double click) opens it."""
        again = self.lines.focused and index == self.lines.cursor
        self.lines.put_cursor(index)
        self.focus()  # type: ignore[attr-defined]
        if again or chain > 1:
            self.action_open_row()

    def set_budget(self, lines: int | None) -> None:
        self.lines.set_budget(lines, self.expanded)

    def wanted_lines(self) -> int:
        return self.lines.wanted()

    def least_lines(self) -> int:
        return max(1, self.lines.least())

    def watch_rows(self) -> None:
        self.lines.on_wanted = lambda: self.post_message(RoomChanged())  # type: ignore[attr-defined]
