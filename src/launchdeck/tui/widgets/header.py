"""The top line: deck name, environment (production stands out) and the read-only badge."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class DeckHeader(Static):
    DEFAULT_CSS = """
    DeckHeader { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self, name: str, environment: str, production: bool, actions_enabled: bool) -> None:
        super().__init__(self.compose_line(name, environment, production, actions_enabled), id="deck-header")
        self.set_class(production, "-production")

    @staticmethod
    def compose_line(name: str, environment: str, production: bool, actions_enabled: bool) -> Text:
        line = Text.assemble(("launchdeck", "bold"), "  ", (name, "bold"), "  ")
        line.append(f" {environment.upper()} ", style="bold white on red" if production else "bold black on cyan")
        line.append("  ")
        if actions_enabled:
            line.append(" ACTIONS ENABLED ", style="bold white on dark_orange3")
        else:
            line.append(" READ-ONLY ", style="bold black on grey70")
        return line
