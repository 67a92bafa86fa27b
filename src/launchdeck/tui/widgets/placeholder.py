"""A panel slot whose source is not configured (or not yet collected): says which, and what to add."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


class PanelPlaceholder(Static, can_focus=True):
    DEFAULT_CSS = """
    PanelPlaceholder { height: auto; color: $text-muted; }
    """

    def __init__(self, title: str, message: str, **kwargs) -> None:
        super().__init__(Content(message), **kwargs)  # Content: "[[backups]]" is not markup
        self.border_title = title
