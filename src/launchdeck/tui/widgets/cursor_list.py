"""A one-line-per-entry list with a cursor: the checklist's items and the timeline's events.

Both are line-API ScrollViews (10,000 entries draw only the visible lines); this is the one place
that moves their cursor, keeps it in view, pages and answers a click.
"""

from __future__ import annotations

from textual.events import Click
from textual.scroll_view import ScrollView


class CursorList(ScrollView):
    cursor: int = 0

    def line_count(self) -> int:
        """How many entries the list shows now."""
        raise NotImplementedError

    def cursor_moved(self) -> None:
        """Tell whoever shows the selected entry (a detail line, a message)."""

    def move_to(self, index: int) -> None:
        count = self.line_count()
        self.cursor = max(0, min(index, count - 1))
        top, height = self.scroll_offset.y, self.scrollable_content_region.height or 1
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)
        self.refresh()
        self.cursor_moved()

    def action_move(self, step: int) -> None:
        self.move_to(self.cursor + step)

    def action_page(self, step: int) -> None:
        self.move_to(self.cursor + step * max(1, self.scrollable_content_region.height - 1))

    def action_edge(self, end: int) -> None:
        self.move_to(self.line_count() - 1 if end else 0)

    def on_click(self, event: Click) -> None:
        self.move_to(self.scroll_offset.y + event.y)
