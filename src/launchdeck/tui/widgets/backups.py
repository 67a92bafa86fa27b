"""Backups panel: per source its status, the newest backup's age and size, what it holds, whether the
newest was verified, and the reason; on a wide screen the next older backups under it. `enter`
opens a source's detail, `b` lists all recent backups (the restore chooser's list), `v` verifies the newest dump of every directory source.

Ages show in whole minutes and reasons carry no live numbers: a row repaints when a minute
passes or something changes, not on every poll (DESIGN rule 7).
"""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.content import Content

from launchdeck.probes.backups.freshness import age_words
from launchdeck.core.model import Reading, Status
from launchdeck.engine.tracking import Track
from launchdeck.core.units import format_minutes, format_size
from launchdeck.tui.palette import CRIT, MUTED, OK, UNKNOWN, WARN, styled
from launchdeck.tui.widgets.badge import badge
from launchdeck.tui.widgets.rows import WIDE_ENOUGH, CellRow, Column, RowsPanel, ellipsis, short_name
from launchdeck.tui.messages import BackupsListRequested, VerifyRequested

RECENT_SHOWN = 2  # older backups named under each source on a wide screen; `b` lists them all
OLDER_INDENT = 10  # under the name, past the badge
VERIFY_STYLE = {"passed": ("✓ verified", OK), "failed": ("✗ verify", CRIT),
                "running": ("verifying…", WARN), "error": ("? unverified", UNKNOWN)}


def age_text(seconds: Any) -> Content:
    if not isinstance(seconds, (int, float)):
        return styled("—".rjust(6), MUTED)
    return styled(("+" + format_minutes(-seconds) if seconds < 0 else format_minutes(seconds)).rjust(6))


def holds_text(values: dict[str, Any]) -> str:
    """What the source holds: `14 files 2.1G`, `full+incr`, `WAL #1203`."""
    source = values.get("source")
    if source == "directory" and isinstance(values.get("count"), int):
        count = values["count"]
        return f"{count} file{'s' if count != 1 else ''} {format_size(values.get('total_bytes'))}"
    if source == "pgbackrest":
        kinds = [k for s in values.get("stanzas") or [] for k in (s.get("latest") or {})]
        return "+".join(dict.fromkeys(kinds)) or "no sets"
    if source == "wal" and isinstance(values.get("archived_count"), int):
        failed = values.get("failed_count") or 0
        return f"WAL {values['archived_count']}" + (f" ✗{failed}" if failed else "")
    return ""


class BackupRow(CellRow):
    # 80 columns: a verification shows as its mark alone, so the reason keeps its room
    COLUMNS = (Column("badge", 10), Column("name", 13), Column("age", 7), Column("size", 7, pad=1),
               Column("holds", 16, pad=1, style="$text-muted", layouts=WIDE_ENOUGH),
               Column("verified", 11, pad=1, narrow_width=2), Column("reason", pad=1))

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.reading: Reading | None = None
        self.older = ""  # the next older backups, shown under the row on the wall
        self.show({"badge": badge(None), "name": short_name(target, 12), "reason": ellipsis("waiting for the first poll", MUTED)})

    def show_reading(self, reading: Reading, track: Track | None) -> None:
        self.reading = reading
        values = dict(reading.values)
        ok = reading.status is Status.OK
        self.show({
            "badge": badge(reading.status),
            "age": age_text(values.get("age_seconds")),
            "size": styled(format_size(values["size_bytes"]) if values.get("size_bytes") is not None else ""),
            "holds": styled(holds_text(values)),
            "reason": ellipsis(str(values.get("newest") or reading.reason) if ok else reading.reason,
                               MUTED if ok else ""),
        })

    def show_verification(self, state: str | None) -> None:
        """For the newest backup only (an older one's result says little); None: never verified."""
        if state is None:
            self.show({"verified": styled("")})
            return
        words, style = VERIFY_STYLE[state]
        self.show({"verified": styled(words, style)})

    def show_older(self, reading: Reading) -> None:
        """Under the source on the wall (wide layout): the next older backups, so the list is in view."""
        older = (reading.values.get("backups") or [])[1:1 + RECENT_SHOWN]
        text = ("↳ " + " · ".join(f"{b['name']} {age_words(b.get('age_seconds'))}" for b in older)) if older else ""
        if text == self.older:
            return
        had_line, self.older = bool(self.older), text
        if self.owner is not None and had_line != bool(text):
            self.owner.reflow()  # a line more or less: the panel's height changes
        elif self.owner is not None:
            self.owner.repaint(self)

    def lines(self, width: int, layout: str) -> list[Content]:
        own = [self.line(width, layout)]
        if layout != "wide" or not self.older:
            return own
        return own + [Content.assemble(" " * OLDER_INDENT, styled(self.older, MUTED).truncate(
            max(0, width - OLDER_INDENT), ellipsis=True))]


class BackupsPanel(RowsPanel):
    ROW = BackupRow
    TITLE = "Backups"
    HINT = "enter detail · b list · v verify"
    BINDINGS = [*RowsPanel.BINDINGS, Binding("v", "verify", "Verify newest")]

    def __init__(self, targets: list[str], **kwargs) -> None:
        super().__init__(targets, **kwargs)
        self.results: dict[tuple[str, str], str] = {}  # (source, file) -> passed/failed/running/error

    def show(self, reading: Reading, track: Track | None = None) -> None:
        super().show(reading, track)
        row = self.rows.get(reading.target)
        if row is not None:
            row.show_older(reading)
        self._verified(reading.target)

    def show_results(self, results: dict[tuple[str, str], str]) -> None:
        self.results = results
        for target in self.rows:
            self._verified(target)

    def _verified(self, target: str) -> None:
        row = self.rows.get(target)
        newest = row.reading.values.get("newest") if row and row.reading else None
        if row is not None and newest:
            key = (target, str(newest))
            row.show_verification(self.results.get(key))

    def action_list(self) -> None:
        self.post_message(BackupsListRequested())

    def action_verify(self) -> None:
        self.post_message(VerifyRequested())
