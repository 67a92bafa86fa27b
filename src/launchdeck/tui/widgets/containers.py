"""Containers panel: a row per container, grouped by host and compose project, sortable, filterable.

Containers come and go, so rows are added when a new one is reported and removed when a newer
poll of the same host no longer reports it. Rows are reordered at most once per poll of a host.
"""

from __future__ import annotations

from datetime import datetime

from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Input, Static

from launchdeck.core.model import Reading, Status
from launchdeck.engine.tracking import Track
from launchdeck.core.units import format_duration, format_size
from launchdeck.tui.messages import RoomChanged
from launchdeck.tui.palette import CRIT, MUTED, OK, WARN, styled
from launchdeck.tui.widgets.badge import badge
from launchdeck.tui.widgets.row_cursor import RowCursor
from launchdeck.tui.widgets.rows import WALL, WIDE_ENOUGH, CellRow, Column, RowLines, Steady, ellipsis, short_name

SORTS = ("name", "cpu", "memory", "state")
HEALTH_STYLE = {"healthy": OK, "unhealthy": CRIT, "starting": WARN}
RESTARTS_STYLE = WARN
_SEVERITY_ORDER = {Status.CRIT: 0, Status.UNKNOWN: 1, Status.WARN: 2, Status.OK: 3}


class ContainerRow(CellRow):
    # health, network I/O and PIDs only where there is room (the wall); the reason says what matters
    COLUMNS = (Column("badge", 10), Column("name", 18), Column("cpu", 7), Column("memory", 16, pad=1),
               Column("restarts", 5), Column("uptime", 8, pad=1, layouts=WIDE_ENOUGH),
               Column("health", 11, pad=1, layouts=WALL), Column("net", 16, pad=1, layouts=WALL),
               Column("pids", 6, pad=1, layouts=WALL), Column("reason", pad=1))

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.reading: Reading | None = None
        self.steady = Steady()

    def show_reading(self, reading: Reading, track: Track | None) -> None:
        self.reading = reading
        v = reading.values
        name = v.get("name") or reading.target.split("/", 1)[-1]
        if v.get("project") and v.get("service"):
            name = f"{v['project']}·{v['service']}"
        shown = self.steady.hold(reading.status, {"cpu": v.get("cpu_percent"), "mem": v.get("mem_bytes"),
                                                  "mem_percent": v.get("mem_percent")})
        cpu, mem, limit = shown["cpu"], shown["mem"], v.get("mem_limit_bytes")
        memory = format_size(mem) + (f"/{format_size(limit)}" if limit else "")
        if shown["mem_percent"] is not None and limit:
            memory += f" {shown['mem_percent']:.0f}%"
        uptime = v.get("uptime_seconds")
        restarts = v.get("restarts") or 0
        self.show({
            "badge": badge(reading.status),
            "name": short_name(name, 17),
            "cpu": styled(f"{cpu:.1f}%".rjust(7) if isinstance(cpu, (int, float)) else "—".rjust(7)),
            "memory": styled(memory),
            "restarts": styled(f"↻{restarts}" if restarts else "", RESTARTS_STYLE),
            "uptime": styled(format_duration(uptime) if isinstance(uptime, (int, float)) else str(v.get("state", "")),
                             MUTED),
            "health": styled(str(v.get("health") or ""), HEALTH_STYLE.get(str(v.get("health")), MUTED)),
            "net": styled(f"↓{format_size(v.get('net_rx_bytes'))} ↑{format_size(v.get('net_tx_bytes'))}", MUTED),
            "pids": styled(f"{v['pids']}p" if isinstance(v.get("pids"), int) else "", MUTED),
            "reason": ellipsis(reading.reason if reading.status is not Status.OK else str(v.get("image", "")),
                               "" if reading.status is not Status.OK else MUTED),
        })

    def sort_key(self, mode: str) -> tuple:
        reading = self.reading
        v = reading.values if reading else {}
        group = (str(v.get("host", "")), str(v.get("project") or ""))
        if mode == "cpu":
            return group + (-(v.get("cpu_percent") or 0.0), self.target)
        if mode == "memory":
            return group + (-(v.get("mem_bytes") or 0), self.target)
        if mode == "state":
            return group + (_SEVERITY_ORDER[reading.status] if reading else 9, self.target)
        return group + (self.target,)


class ContainersPanel(RowCursor, Vertical, can_focus=True):
    BINDINGS = [*RowCursor.CURSOR_BINDINGS, Binding("s", "sort", "Sort"),
                Binding("slash", "filter", "Filter", key_display="/"),
                Binding("escape", "clear_filter", "Clear filter", show=False)]
    DEFAULT_CSS = """
    ContainersPanel { height: auto; }
    ContainersPanel > Input { display: none; height: 3; }
    ContainersPanel > Input.-shown { display: block; }
    ContainersPanel > .-host-problem { color: $error; }
    ContainersPanel > .-empty { color: $text-muted; }
    """

    def __init__(self, hosts: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Containers"
        self.hosts = hosts
        self.rows: dict[str, ContainerRow] = {}
        self.sort = "name"
        self.lines = RowLines()
        self._filter = ""
        self._newest: dict[str, datetime] = {}
        self._problems = {host: Static("", classes="-host-problem") for host in hosts}
        for line in self._problems.values():
            line.display = False
        self._empty = Static(Content(f"waiting for the first poll of {', '.join(hosts)}"), classes="-empty")
        self._subtitle()
        self.watch_rows()

    def compose(self):
        yield Input(placeholder="filter containers (escape clears)")
        yield from self._problems.values()
        yield self._empty
        yield self.lines

    def extra_lines(self) -> int:
        """Lines above the rows: a host's problem, "no containers", the filter box while it is open."""
        return (sum(1 for line in self._problems.values() if line.display) + (1 if self._empty.display else 0)
                + (3 if self.query_one(Input).has_class("-shown") else 0))

    def least_lines(self) -> int:
        return self.lines.least() if self.lines.rows else 0

    def show(self, reading: Reading, track: Track | None = None) -> None:
        if self._empty.display:  # the first reading of any host: its containers or its problem from now on
            self._empty.display = False
            self.post_message(RoomChanged())
        host = reading.target.split("/", 1)[0]
        if "/" not in reading.target:  # the whole host failed: one reading for the host itself
            self._problem(host, reading.reason if reading.status is not Status.OK else "")
            return
        self._problem(host, "")
        row = self.rows.get(reading.target)
        if row is None:
            row = self.rows[reading.target] = ContainerRow(reading.target)
            row.status = reading.status
            row.show_reading(reading, track)
            if self._matches(reading.target):  # at the end until the host's poll settles, then in order
                self.lines.set_rows([*self.lines.rows, row])
        else:
            moved = row.status is not reading.status
            row.status = reading.status
            row.show_reading(reading, track)
            if moved:
                self.lines.status_changed()
        if self._newest.get(host) != reading.observed_at:
            self._newest[host] = reading.observed_at
            self.call_after_refresh(self._settle, host)

    def set_layout(self, layout: str) -> None:
        self.lines.set_layout(layout)

    def _problem(self, host: str, reason: str) -> None:
        line = self._problems.get(host)
        if line is not None and (line.display != bool(reason) or reason):
            line.update(styled(f"{host}: {reason}") if reason else Content(""))
            if line.display != bool(reason):
                line.display = bool(reason)
                self.post_message(RoomChanged())

    def _settle(self, host: str) -> None:
        """After a poll of `host`: drop containers it no longer reports, then restore the order."""
        newest = self._newest[host]
        for target, row in list(self.rows.items()):
            if target.startswith(f"{host}/") and row.reading is not None and row.reading.observed_at < newest:
                del self.rows[target]
        self._reorder()
        self._subtitle()

    def _reorder(self) -> None:
        """The shown rows: those the filter matches, in the sort's order."""
        ordered = sorted(self.rows.values(), key=lambda r: r.sort_key(self.sort))
        self.lines.set_rows([row for row in ordered if self._matches(row.target)])

    def _subtitle(self) -> None:
        """Changes only with the sort key: a live count would repaint the whole panel (see RowsPanel)."""
        self.border_subtitle = f"sort {self.sort} (s) · / filter"

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._reorder()
        self._subtitle()

    def action_filter(self) -> None:
        box = self.query_one(Input)
        box.add_class("-shown")
        box.focus()
        self.post_message(RoomChanged())

    def action_clear_filter(self) -> None:
        box = self.query_one(Input)
        box.value = ""
        box.remove_class("-shown")
        self.focus()
        self.post_message(RoomChanged())

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._filter = event.value.strip().lower()
        self._reorder()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus()

    def _matches(self, target: str) -> bool:
        return not self._filter or self._filter in target.lower()
