"""Services panel: one line per health target. Only a row whose text changed is repainted.

Rows are small widgets rather than a DataTable: DataTable.update_cell repaints the whole table
(8.1 KB/s measured), a changed row alone costs ~100 B (DESIGN field notes).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widget import Widget

from ..model import Reading, Status
from ..units import format_latency
from .badge import badge

NAME_WIDTH = 14


@dataclass(frozen=True)
class ServiceLine:
    """Exactly what a row shows; equal lines mean no repaint."""

    name: str
    status: Status | None
    latency: str = ""
    code: str = ""
    reason: str = "waiting for the first poll"

    @classmethod
    def from_reading(cls, reading: Reading) -> ServiceLine:
        latency = reading.values.get("latency_seconds")
        code = reading.values.get("http_status")
        # an ok row's reason would repeat the latency and code columns: show where it points instead
        detail = str(reading.values.get("url", "")) if reading.status is Status.OK else reading.reason
        return cls(reading.target, reading.status, format_latency(latency) if latency is not None else "—",
                   str(code) if code is not None else "", detail)


class Cell(Widget):
    """One column of a row. A reading that changes only the latency repaints only this cell."""

    DEFAULT_CSS = """
    Cell { height: 1; width: auto; }
    """

    text: reactive[Text] = reactive(Text(), layout=False)

    def render(self) -> Text:
        return self.text


class ServiceRow(Horizontal):
    """One target: badge, name, latency, HTTP code, reason, each in its own cell."""

    DEFAULT_CSS = """
    ServiceRow { height: 1; }
    ServiceRow > .-badge { width: 9; }
    ServiceRow > .-name { width: 16; }
    ServiceRow > .-latency { width: 7; }
    ServiceRow > .-code { width: 5; padding-left: 1; }
    ServiceRow > .-reason { width: 1fr; padding-left: 1; }
    """

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target
        self._cells = {name: Cell(classes=f"-{name}") for name in ("badge", "name", "latency", "code", "reason")}
        self.line = ServiceLine(target, None)
        self._paint(self.line)

    def compose(self):
        yield from self._cells.values()

    def show(self, line: ServiceLine) -> None:
        if line != self.line:
            self.line = line
            self._paint(line)

    def _paint(self, line: ServiceLine) -> None:
        name = line.name if len(line.name) <= NAME_WIDTH else line.name[: NAME_WIDTH - 1] + "…"
        reason = Text(line.reason, no_wrap=True, overflow="ellipsis")
        texts = {"badge": badge(line.status), "name": Text(name, style="bold"),
                 "latency": Text(line.latency.rjust(7)), "code": Text(line.code, style="dim"), "reason": reason}
        for key, text in texts.items():
            self._cells[key].text = text  # reactive: an equal Text does not repaint

    def plain(self) -> str:
        """The row as one line of plain text, for tests and logs."""
        line = self.line
        return f"{badge(line.status).plain}{line.name:<{NAME_WIDTH + 2}}{line.latency:>7}  {line.code:<4}{line.reason}"


class ServicesPanel(Vertical, can_focus=True):
    """Health of every configured service, in config order; the subtitle counts how many are ok."""

    DEFAULT_CSS = """
    ServicesPanel { height: auto; }
    """

    def __init__(self, targets: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Services"
        self._rows = {target: ServiceRow(target) for target in targets}
        self._statuses: dict[str, Status] = {}
        self._update_subtitle()

    def compose(self):
        yield from self._rows.values()

    def show(self, reading: Reading) -> None:
        row = self._rows.get(reading.target)
        if row is None:
            return
        row.show(ServiceLine.from_reading(reading))
        if self._statuses.get(reading.target) != reading.status:
            self._statuses[reading.target] = reading.status
            self._update_subtitle()

    def _update_subtitle(self) -> None:
        total = len(self._rows)
        ok = sum(1 for s in self._statuses.values() if s is Status.OK)
        self.border_subtitle = f"{ok}/{total} ok" if total else "not configured"
