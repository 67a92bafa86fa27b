"""The top line: deck name, environment (production stands out) and the read-only badge."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from launchdeck.tui.palette import (ACTIONS_ENABLED_FILL, ENVIRONMENT_FILL, PRODUCTION_FILL, READ_ONLY_FILL,
                                    styled)


class DeckHeader(Static):
    DEFAULT_CSS = """
    DeckHeader { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self, name: str, environment: str, production: bool, actions_enabled: bool) -> None:
        super().__init__(self.compose_line(name, environment, production, actions_enabled), id="deck-header")
        self.set_class(production, "-production")

    @staticmethod
    def compose_line(name: str, environment: str, production: bool, actions_enabled: bool) -> Content:
        return Content.assemble(
            styled("launchdeck", "bold"), "  ", styled(name, "bold"), "  ",
            styled(f" {environment.upper()} ", PRODUCTION_FILL if production else ENVIRONMENT_FILL), "  ",
            styled(" ACTIONS ENABLED ", ACTIONS_ENABLED_FILL) if actions_enabled
            else styled(" READ-ONLY ", READ_ONLY_FILL))
