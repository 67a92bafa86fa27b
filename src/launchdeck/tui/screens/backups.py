"""`b` (or enter on the Backups panel): recent backups of every source, newest first.

This list is what a restore chooses from. `v` verifies the highlighted dump where it lies; the
result shows on its line (and the panel, for a newest backup) and goes to the ledger. The table
is rebuilt only when a source's reading changes (once a minute), so a DataTable is cheap here.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from launchdeck.probes.backups.freshness import age_words
from launchdeck.core.model import Reading
from launchdeck.core.units import format_size
from launchdeck.tui.messages import VerifyRequested
from launchdeck.tui.palette import CRIT, OK, UNKNOWN, WARN, TableText
from launchdeck.tui.widgets.header import DeckHeader

# in the theme's colours as the table renders them: a theme switch recolours the column
RESULT_TEXT = {"passed": TableText.styled("✓ passed", OK), "failed": TableText.styled("✗ failed", CRIT),
               "running": TableText.styled("verifying…", WARN), "error": TableText.styled("? unverified", UNKNOWN)}


class BackupsScreen(Screen):
    BINDINGS = [Binding("v", "verify", "Verify"), Binding("escape,b", "back", "Dashboard")]
    DEFAULT_CSS = """
    BackupsScreen DataTable { height: 1fr; }
    BackupsScreen #detail { height: auto; max-height: 4; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, header: DeckHeader, readings: list[Reading], results: dict[tuple[str, str], str],
                 summaries: dict[tuple[str, str], str]) -> None:
        super().__init__(id="backups-screen")
        self._header = header
        self.readings = {r.target: r for r in readings}
        self.results, self.summaries = results, summaries

    def compose(self) -> ComposeResult:
        yield self._header
        table: DataTable = DataTable(cursor_type="row", zebra_stripes=True, id="recent")
        # what an 80-column terminal must show first: which file, how old, how big, verified?
        for column in ("source", "backup", "age", "size", "verified", "taken at (UTC)", "type"):
            table.add_column(column, key=column)
        yield table
        yield Static("", id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self._fill()
        self.query_one(DataTable).focus()

    def show_reading(self, reading: Reading) -> None:
        if self.readings.get(reading.target) != reading:
            self.readings[reading.target] = reading
            self._fill()

    def show_results(self, results: dict[tuple[str, str], str], summaries: dict[tuple[str, str], str]) -> None:
        self.results, self.summaries = results, summaries
        table = self.query_one(DataTable)
        for key, state in results.items():
            row_key = "\0".join(key)
            if row_key in table.rows:
                table.update_cell(row_key, "verified", RESULT_TEXT[state])
        self._describe()

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        chosen, keep = self.highlighted(), table.cursor_row
        table.clear()
        for source, reading in self.readings.items():
            listed = reading.values.get("backups") or []
            if not listed:
                words = reading.reason if len(reading.reason) <= 32 else reading.reason[:31] + "…"
                table.add_row(Text(source), Text(words, style="dim"), "", "", "", "", "", key=f"{source}\0")
            for item in listed:
                key = (source, item["name"])
                table.add_row(Text(source), Text(item["name"]), age_words(item.get("age_seconds")),
                              format_size(item.get("size_bytes")),
                              RESULT_TEXT[self.results[key]] if key in self.results else "",
                              (item.get("taken_at") or "")[:19].replace("T", " "), Text(str(item.get("type", ""))),
                              key="\0".join(key))
        if table.row_count:  # the cursor stays on the file it was on (a newer dump shifts the rows)
            key = "\0".join(chosen) if chosen else ""
            row = table.get_row_index(key) if key in table.rows else min(keep, table.row_count - 1)
            table.move_cursor(row=row)
        self._describe()

    def highlighted(self) -> tuple[str, str] | None:
        """(source, file) under the cursor; (source, "") on a source that lists no backup."""
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value or ""
        source, _, name = key.partition("\0")
        return source, name

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._describe()

    def _describe(self) -> None:
        chosen = self.highlighted()
        detail = self.query_one("#detail", Static)
        reading = self.readings.get(chosen[0]) if chosen else None
        if chosen is None or reading is None or not chosen[1]:
            detail.update(Text(f"{chosen[0]}: {reading.reason}") if chosen and reading else "")
            return
        where = str(reading.values.get("location", ""))
        if reading.values.get("source") == "directory":  # "host:/dir/main_db_*.gz" -> the file itself
            where = f"{where.rsplit('/', 1)[0]}/{chosen[1]}"
        summary = self.summaries.get(chosen, "not verified in this ledger")
        detail.update(Text(f"{where}\nverification: {summary}"))

    def action_verify(self) -> None:
        chosen = self.highlighted()
        if chosen is None or not chosen[1]:
            self.notify("no backup highlighted", severity="warning", timeout=3)
            return
        self.post_message(VerifyRequested(*chosen))

    def action_back(self) -> None:
        self.app.pop_screen()

