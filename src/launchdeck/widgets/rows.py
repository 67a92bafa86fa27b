"""The one pattern every list panel uses: a panel of rows keyed by target, each row a line of
cells, and only a cell whose text changed is repainted (DESIGN rule 7: bytes are the cost over SSH).
"""

from __future__ import annotations

from rich.text import Text
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widget import Widget

from ..model import Reading, Status
from ..tracking import Track
from ..units import format_duration


class Cell(Widget):
    DEFAULT_CSS = """
    Cell { height: 1; width: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    text: reactive[Text] = reactive(Text(), layout=False)

    def render(self) -> Text:
        return self.text


class CellRow(Horizontal):
    """A line of named cells; subclasses list COLUMNS and size them in DEFAULT_CSS (`.-name`)."""

    COLUMNS: tuple[str, ...] = ()

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target
        self.cells = {name: Cell(classes=f"-{name}") for name in self.COLUMNS}

    def compose(self):
        yield from self.cells.values()

    def show(self, texts: dict[str, Text]) -> None:
        for name, text in texts.items():
            self.cells[name].text = text  # reactive: an equal Text does not repaint

    def plain(self) -> str:
        return " ".join(cell.text.plain for cell in self.cells.values())

    def show_reading(self, reading: Reading, track: Track | None) -> None:
        raise NotImplementedError


def since_text(reading: Reading, track: Track | None) -> Text:
    """`12m` in this state (`<1m` at first), and `↕3` after 3 status changes in the last 15 minutes."""
    if track is None:
        return Text("")
    held = (reading.observed_at - track.since).total_seconds()
    # whole minutes only: a seconds counter would repaint every row on every poll (bytes over SSH)
    text = Text("<1m" if held < 60 else format_duration(held - held % 60), style="dim")
    if track.flaps:
        text.append(f" ↕{track.flaps}", style="yellow")
    return text


def ellipsis(text: str, style: str = "") -> Text:
    return Text(text, style=style, no_wrap=True, overflow="ellipsis")


def short_name(name: str, width: int) -> Text:
    return Text(name if len(name) <= width else name[: width - 1] + "…", style="bold")


class RowsPanel(Vertical, can_focus=True):
    """Rows in config order; the subtitle counts how many targets are ok."""

    ROW: type[CellRow] = CellRow
    TITLE = ""

    DEFAULT_CSS = """
    RowsPanel { height: auto; }
    """

    def __init__(self, targets: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = self.TITLE
        self.rows = {target: self.ROW(target) for target in targets}
        self._statuses: dict[str, Status] = {}
        self._count()

    def compose(self):
        yield from self.rows.values()

    def show(self, reading: Reading, track: Track | None = None) -> None:
        row = self.rows.get(reading.target)
        if row is None:
            return
        row.show_reading(reading, track)
        if self._statuses.get(reading.target) != reading.status:
            self._statuses[reading.target] = reading.status
            self._count()

    def _count(self) -> None:
        ok = sum(1 for s in self._statuses.values() if s is Status.OK)
        self.border_subtitle = f"{ok}/{len(self.rows)} ok"


__all__ = ["Cell", "CellRow", "RowsPanel", "since_text", "ellipsis", "short_name"]
