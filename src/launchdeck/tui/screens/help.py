"""`?`: the keys, and what each panel means, without leaving the keyboard.

The action keys are listed only when actions are enabled: a read-only dashboard has none to list.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from launchdeck.tui.palette import KEY, TableText

KEYS = [
    ("?", "this help"),
    ("r", "poll every probe now"),
    ("c", "checklists: space sign, u unsign, w waive, n next open, / filter, [ ] phase"),
    ("b", "recent backups of every source; v verifies the highlighted dump"),
    ("v (Backups panel)", "verify the newest dump of every directory source (gzip, pg_restore, .sha256)"),
    ("tab / shift+tab", "move between panels"),
    ("ctrl+p", "command palette"),
    ("q", "quit"),
]

PANELS = [
    ("Go / No-Go", "one verdict from every reading: GO, CAUTION (a warning), NO-GO (a failure or an unknown)"),
    ("Services", "health endpoints: status, latency, HTTP code; a timeout shows on its own row"),
    ("Traffic", "error ratio, p95 latency and request rate from Prometheus or /metrics"),
    ("Containers", "state, health, restarts, CPU and memory of Docker containers, local or over SSH"),
    ("Backups", "age of the newest backup against max_age (warn past 80 %), its size, what the source holds, "
                "whether the newest was verified"),
    ("Checklists", "pre-launch, launch-day and post-launch items and who signed them"),
]


def help_text(actions: list[tuple[str, str]] | tuple = ()) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column()
    table.add_row(TableText.styled("Keys", f"{KEY} underline"), "")
    for key, meaning in KEYS:
        table.add_row(TableText.styled(key, KEY), meaning)
    if actions:
        table.add_row("", "")
        table.add_row(TableText.styled("Actions (enabled)", f"{KEY} underline"), "")
        for key, meaning in actions:
            table.add_row(TableText.styled(key, KEY), meaning + ("" if key.startswith("x") else " (confirmed first)"))
    table.add_row("", "")
    table.add_row(TableText.styled("Panels", f"{KEY} underline"), "")
    for name, meaning in PANELS:
        table.add_row(TableText.styled(name, KEY), meaning)
    table.add_row("", "")
    table.add_row("", Text("escape or ? closes this", style="dim"))
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    /* opaque: a see-through modal makes Textual dim and redraw the whole dashboard behind it on
       every frame */
    HelpScreen { align: center middle; background: $background; }
    HelpScreen > VerticalScroll { width: 90%; max-width: 100; height: auto; max-height: 90%;
                                  border: round $accent; background: $surface; padding: 0 1; }
    """

    def __init__(self, actions: list[tuple[str, str]] | tuple = ()) -> None:
        super().__init__()
        self.actions = actions

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = "launchdeck help"
            yield Static(help_text(self.actions))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
