"""A panel slot whose source is not configured (or not yet collected): says which, and what to add."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class PanelPlaceholder(Static, can_focus=True):
    DEFAULT_CSS = """
    PanelPlaceholder { height: auto; color: $text-muted; }
    """

    def __init__(self, title: str, message: str, **kwargs) -> None:
        super().__init__(Text(message), **kwargs)  # Text: "[[backups]]" is not markup
        self.border_title = title
