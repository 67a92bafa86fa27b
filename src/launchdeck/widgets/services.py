"""Services panel: one line per health target. Only a row whose text changed is repainted.

Rows are small widgets rather than a DataTable: DataTable.update_cell repaints the whole table
(8.1 KB/s measured), a changed row alone costs ~100 B (DESIGN field notes).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.containers import Vertical
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


class ServiceRow(Widget):
    """One target: badge, name, latency, HTTP code, reason."""

    DEFAULT_CSS = """
    ServiceRow { height: 1; }
    """

    line: reactive[ServiceLine | None] = reactive(None, layout=False)

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target
        self.set_reactive(ServiceRow.line, ServiceLine(target, None))

    def render(self) -> Text:
        line = self.line or ServiceLine(self.target, None)
        name = line.name if len(line.name) <= NAME_WIDTH else line.name[: NAME_WIDTH - 1] + "…"
        text = Text.assemble(badge(line.status), (name.ljust(NAME_WIDTH + 1), "bold"),
                             line.latency.rjust(7), "  ", (line.code.ljust(4), "dim"), line.reason)
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text


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
        row.line = ServiceLine.from_reading(reading)
        if self._statuses.get(reading.target) != reading.status:
            self._statuses[reading.target] = reading.status
            self._update_subtitle()

    def _update_subtitle(self) -> None:
        total = len(self._rows)
        ok = sum(1 for s in self._statuses.values() if s is Status.OK)
        self.border_subtitle = f"{ok}/{total} ok" if total else "not configured"
