"""`?`: every key of the screen it was pressed on, and what each panel means.

The keys are read from the bindings themselves (the app's, the screen's and those of its widgets),
never from a hand-kept list, so a new key is in the help the moment it is bound. The action keys
exist (and so are listed) only when actions are enabled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from launchdeck.tui.palette import KEY, TableText

if TYPE_CHECKING:
    from textual.app import App

PANELS = [
    ("Go / No-Go", "one verdict from every reading: GO, CAUTION (a warning), NO-GO (a failure or an unknown); "
                   "enter on it lists every reason"),
    ("Services", "health endpoints: status, latency, HTTP code; a timeout shows on its own row; the sparkline's "
                 "▅ is latency_warn, █ latency_crit"),
    ("Traffic", "error ratio, p95 latency and request rate from Prometheus or /metrics; the sparkline's ▅ is "
                "error_ratio_warn, █ error_ratio_crit; rates dim while a /metrics window is still warming up"),
    ("Containers", "state, health, restarts, CPU and memory of Docker containers, local or over SSH"),
    ("Backups", "age of the newest backup against max_age (warn past 80 %), its size, what the source holds, "
                "whether the newest was verified"),
    ("Checklists", "pre-launch, launch-day and post-launch items and who signed them"),
    ("+N more", "a short screen shows each panel's worst rows first; enter on the line shows them all"),
    ("Header", "the clock, and 'live' while readings arrive; once one is late it counts the seconds since the "
               "newest, warn-coloured when older than 3 refreshes"),
]
APP_KEYS = "Everywhere"


def _keys_of(node: DOMNode, app: App) -> list[tuple[str, str]]:
    """(key, what it does) for every binding of `node` that says what it does."""
    rows: dict[str, str] = {}
    for key, bindings in node._bindings.key_to_bindings.items():
        for binding in bindings:
            if binding.description and not binding.system:
                shown = app.get_key_display(Binding(key, binding.action, binding.description,
                                                    key_display=binding.key_display))
                rows.setdefault(binding.description, shown)
                if shown not in rows[binding.description].split(" / "):
                    rows[binding.description] += f" / {shown}"
    return [(keys, description) for description, keys in rows.items()]


def screen_keys(screen: Screen, app: App) -> list[tuple[str, list[tuple[str, str]]]]:
    """Sections of keys: launchdeck's widgets on the screen (panels with equal keys share a section),
    the screen's own, then the app's."""
    sections: dict[tuple, list[str]] = {}
    for node in screen.walk_children(with_self=False):
        if not type(node).__module__.startswith("launchdeck"):
            continue
        rows = _keys_of(node, app)
        if rows:
            name = str(getattr(node, "HELP_TITLE", "") or getattr(node, "border_title", "") or type(node).__name__)
            sections.setdefault(tuple(rows), []).append(name)
    result = [(", ".join(names), list(rows)) for rows, names in sections.items()]
    own = _keys_of(screen, app)
    if own:
        result.append(("This screen", own))
    result.append((APP_KEYS, _keys_of(app, app) + [(app.get_key_display(Binding("ctrl+p", "", "")),
                                                     "command palette: every screen, every target's detail")]))
    return result


def help_text(sections: list[tuple[str, list[tuple[str, str]]]], actions: list[tuple[str, str]] | tuple = (),
              panels: bool = True) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column()
    action_keys = {key for key, _ in actions}
    for title, rows in sections:
        table.add_row(TableText.styled(title, f"{KEY} underline"), "")
        for key, meaning in rows:
            table.add_row(TableText.styled(key, KEY), meaning + (" (confirmed first)" if key in action_keys
                                                                 and not key.startswith("x") else ""))
        table.add_row("", "")
    if panels:
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
    HelpScreen > VerticalScroll { width: 90%; max-width: 110; height: auto; max-height: 90%;
                                  border: round $accent; background: $surface; padding: 0 1; }
    """

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]], actions: list[tuple[str, str]] | tuple = (),
                 title: str = "launchdeck help", panels: bool = True) -> None:
        super().__init__()
        self.sections = sections
        self.actions = actions
        self.title_text = title
        self.panels = panels

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = self.title_text
            yield Static(help_text(self.sections, self.actions, self.panels))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
