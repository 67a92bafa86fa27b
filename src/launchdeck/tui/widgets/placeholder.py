"""A panel slot whose source is not configured: one line saying which panel, and what to add, so an
unconfigured source costs the screen a line, not a bordered box."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from launchdeck.tui.palette import MUTED, styled


class PanelPlaceholder(Static):
    DEFAULT_CSS = """
    PanelPlaceholder { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, title: str, message: str, **kwargs) -> None:
        # styled(): "[[backups]]" is not markup
        super().__init__(Content.assemble(styled(title, "bold"), "  ", styled(message, MUTED)), **kwargs)
        self.title = title
