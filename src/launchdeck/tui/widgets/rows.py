"""The one pattern every list panel uses: a panel of rows keyed by target, each row a line of
cells, and only a cell whose text changed is repainted (DESIGN rule 7: bytes are the cost over SSH).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from rich.segment import Segment
from textual.containers import Vertical
from textual.events import Click
from textual.content import Content
from textual.reactive import reactive
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from launchdeck.core.model import Reading, Status
from launchdeck.engine.tracking import Track
from launchdeck.core.units import format_minutes
from launchdeck.tui.palette import MUTED, WARN, styled
from launchdeck.tui.widgets.row_cursor import RowCursor
from launchdeck.tui.widgets.spark import Buckets, Scale


class Shown(Content):
    """Content compared by its text *and* its styles. Content's own `==` compares the text alone,
    so a cell whose colour changed but not its words would keep its old colour on screen."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Content) and self.is_same(other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = Content.__hash__

    @classmethod
    def of(cls, content: Content | str) -> Shown:
        if isinstance(content, cls):
            return content
        if isinstance(content, str):
            return cls(content)
        return cls(content.plain, list(content.spans), strip_control_codes=False)


class Cell(Widget):
    """One line of text as a widget of its own (a mark, the backups' "older" line)."""

    DEFAULT_CSS = """
    Cell { height: 1; width: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    text: reactive[Content] = reactive(Shown(), layout=False)

    def validate_text(self, text: Content | str) -> Shown:
        return Shown.of(text)

    def render(self) -> Content:
        return self.text


LAYOUTS = ("narrow", "normal", "wide")  # the dashboard's widths: an 80-column SSH session, a laptop, the wall
WIDE_ENOUGH = ("normal", "wide")  # sparklines, uptimes, holdings: at 80 columns the reasons need the room
WALL = ("wide",)


@dataclass(frozen=True)
class Column:
    """A column of a row: `width` cells (0: the rest of the line) after `pad` blank ones."""

    name: str
    width: int = 0
    pad: int = 0
    style: str = ""  # under the text's own styles (a sparkline's muted colour)
    layouts: tuple[str, ...] = LAYOUTS  # where it shows: wall-only columns, columns an 80-column screen drops
    narrow_width: int | None = None  # cut (no ellipsis) to this in the narrow layout: a mark without its word


class Slot:
    """What a column shows now. Setting an equal text in equal styles reports no change."""

    __slots__ = ("text",)

    def __init__(self) -> None:
        self.text: Shown = Shown()

    def set(self, text: Content | str) -> bool:
        shown = Shown.of(text)
        if shown == self.text:
            return False
        self.text = shown
        return True


class CellRow:
    """A line of named columns. Not a widget: a panel's rows are drawn by one `RowLines` widget, so
    Textual's layout passes (a focus move, a resize, a screen switch, a toast) cost the same at 200
    targets as at 3. With a widget per column, 1,600 widgets cost ~0.37 s per pass, the time a key
    press waited; with a widget per row, a toast still cost 60 ms more at 200 rows than at 3."""

    COLUMNS: tuple[Column, ...] = ()

    def __init__(self, target: str) -> None:
        self.target = target
        self.cells = {column.name: Slot() for column in self.COLUMNS}
        self.owner: RowLines | None = None  # the widget drawing this row, told of every change
        self.status: Status | None = None  # the newest reading's (None before the first): which rows are worst
        self._spans: tuple[tuple[int, str], dict[str, tuple[int, int, Column]]] | None = None

    def show(self, texts: dict[str, Content | str]) -> None:
        changed = [name for name, text in texts.items() if self.cells[name].set(text)]
        if changed and self.owner is not None:
            self.owner.changed(self, changed)

    def spans(self, width: int, layout: str) -> dict[str, tuple[int, int, Column]]:
        """Each shown column's x and width at this width and layout, computed once per both."""
        key = (width, layout)
        if self._spans is None or self._spans[0] != key:
            columns = [c for c in self.COLUMNS if layout in c.layouts]
            widths = {c.name: (c.narrow_width if layout == "narrow" and c.narrow_width else c.width)
                      for c in columns}
            rest = max(0, width - sum(widths.values()))
            x, spans = 0, {}
            for column in columns:
                cut = min(widths[column.name] or rest, max(0, width - x))
                spans[column.name] = (x, cut, column)
                x += cut
            self._spans = (key, spans)
        return self._spans[1]

    def line(self, width: int, layout: str) -> Content:
        parts = []
        for name, (_, cut, column) in self.spans(width, layout).items():
            if cut <= column.pad:
                parts.append(" " * cut)
                continue
            text = self.cells[name].text
            if column.style:
                text = text.stylize_before(column.style)
            clip = layout == "narrow" and column.narrow_width
            parts += [" " * column.pad, text.truncate(cut - column.pad, ellipsis=not clip, pad=True)]
        return Content.assemble(*parts)

    def lines(self, width: int, layout: str) -> list[Content]:
        """Every line this row takes: its own; a subclass may add lines under it (on the wall)."""
        return [self.line(width, layout)]

    def plain(self) -> str:
        return " ".join(cell.text.plain for cell in self.cells.values())

    def show_reading(self, reading: Reading, track: Track | None) -> None:
        raise NotImplementedError

    def use_scale(self, scale: Scale) -> None:
        """Sparkline heights against this row's thresholds (spark.threshold_scale); rows without one ignore it."""
        return None

    SPARK_VALUE = ""  # the reading value a row's sparkline draws ("" for rows without one)

    def spark(self) -> Buckets | None:
        """The row's sparkline slices, when it has a sparkline."""
        return None

    def redraw_history(self, readings: Iterable[Reading]) -> None:
        """The sparkline drawn again from these readings alone (a replay's cursor moved: what the row
        gathered itself may lie after the cursor); rows without one ignore it."""
        spark = self.spark()
        if spark is None:
            return
        spark.clear()
        for reading in readings:
            spark.add(reading.observed_at, reading.values.get(self.SPARK_VALUE))
        self.show({"spark": styled(spark.text())})


class MoreRow(CellRow):
    """The last line of a panel cut down to its worst rows: how many are not shown, and that enter
    (or a click) shows them all; on an expanded panel, that enter shows fewer again."""

    COLUMNS = (Column("text"),)

    def __init__(self) -> None:
        super().__init__("")

    def say(self, hidden: int, expanded: bool) -> None:
        text = "▲ fewer · enter" if expanded else f"+{hidden} more · enter shows all"
        self.show({"text": styled(text, MUTED)})

    def show_reading(self, reading: Reading, track: Track | None) -> None:
        return None


class RowLines(Widget):
    """Draws a panel's rows, a line each (Textual's line API): only lines on screen are rendered, and
    a changed column repaints only its own cells (`refresh(region)`), so over SSH the bytes stay those
    of the changed text (DESIGN rule 7).

    With a `budget` of lines smaller than the rows need (an 80x24 screen), it shows the worst rows
    (crit, unknown, warn, then ok; config order among equals) and a `MoreRow` saying how many are left
    out. A cursor (one row) is drawn while the panel has focus: enter opens that row's detail."""

    DEFAULT_CSS = """
    RowLines { height: auto; }
    """

    def __init__(self, rows: list[CellRow] | None = None, layout: str = "normal") -> None:
        super().__init__()
        self.layout_name = layout
        self.rows: list[CellRow] = []  # every row, in the panel's order
        self.shown: list[CellRow] = []  # the rows drawn: all of them, or the worst and a MoreRow
        self.more = MoreRow()
        self.more.owner = self
        self.budget: int | None = None  # lines this widget may take; None: as many as its rows need
        self.expanded = False
        self.cursor = 0  # index into `shown`
        self.focused = False
        self._at: dict[int, int] = {}  # id(row) -> its first line
        self._lines: list[tuple[CellRow, int]] = []  # line -> (row, which of its lines)
        self._wanted = 0
        self._reflow_due = False  # a status moved: one reflow after the next refresh (status_changed)
        self.on_wanted: Callable[[], None] | None = None  # told when the lines every row needs changed
        self.set_rows(rows or [])

    def set_rows(self, rows: list[CellRow]) -> None:
        """The rows shown, in this order (a sort, a filter, a container gone)."""
        if [id(r) for r in rows] == [id(r) for r in self.rows]:
            return
        for row in rows:
            row.owner = self
        self.rows = list(rows)
        self.reflow()

    def set_budget(self, budget: int | None, expanded: bool = False) -> None:
        if (budget, expanded) != (self.budget, self.expanded):
            self.budget, self.expanded = budget, expanded
            self.reflow()

    def wanted(self) -> int:
        """Lines every row needs at this width (plus the "fewer" line of an expanded panel)."""
        return self._wanted + (1 if self.expanded else 0)

    def least(self) -> int:
        """Lines the worst row needs, and a line saying how many more there are."""
        if not self.rows:
            return 0
        width = self.size.width or 80
        worst = min(self.rows, key=_rank(self.rows))
        need = len(worst.lines(width, self.layout_name))
        return need + (1 if self._wanted > need else 0)

    def cut_without_expanding(self) -> bool:
        return self.budget is not None and self._wanted > self.budget

    def _choose(self, width: int) -> list[CellRow]:
        rows = self.rows
        if self.expanded:  # every row, and the line that folds them again
            self.more.say(0, True)
            return [*rows, self.more]
        if self.budget is None or self._wanted <= self.budget:
            return list(rows)
        room, chosen = self.budget - 1, set()
        for row in sorted(rows, key=_rank(rows)):
            need = len(row.lines(width, self.layout_name))
            if need <= room:
                chosen.add(id(row))
                room -= need
        if not chosen and rows:  # not even the worst fits with the count: the worst, without it
            return [min(rows, key=_rank(rows))]
        self.more.say(len(rows) - len(chosen), False)
        return [row for row in rows if id(row) in chosen] + [self.more]

    def reflow(self) -> None:
        """Lines again from the rows: after a change of rows, of layout, of budget, of a row's line
        count or (when cut to the worst rows) of a row's status."""
        width = self.size.width or 80
        wanted = sum(len(row.lines(width, self.layout_name)) for row in self.rows)
        told = wanted != self._wanted
        at_cursor = self.shown[self.cursor] if 0 <= self.cursor < len(self.shown) else None
        self._wanted = wanted
        shown = self._choose(width)
        lines, at = [], {}
        for row in shown:
            at[id(row)] = len(lines)
            lines += [(row, k) for k in range(len(row.lines(width, self.layout_name)))]
        grew = len(lines) != len(self._lines)
        self._lines, self._at, self.shown = lines, at, shown
        self.cursor = shown.index(at_cursor) if at_cursor in shown else min(self.cursor, max(0, len(shown) - 1))
        self.refresh(layout=grew)
        if told and self.on_wanted is not None:
            self.on_wanted()

    def status_changed(self) -> None:
        """A row's status moved: when cut to the worst rows, which ones are worst may have changed.
        One reflow after the next refresh however many rows moved (the first cycle of 200 targets
        moved every row: a reflow each cost the UI thread ~0.2 s before the first full picture)."""
        if self.cut_without_expanding() and not self.expanded and not self._reflow_due:
            self._reflow_due = True
            self.call_after_refresh(self._reflow_when_due)

    def _reflow_when_due(self) -> None:
        if self._reflow_due:
            self._reflow_due = False
            self.reflow()

    def set_layout(self, layout: str) -> None:
        if layout != self.layout_name:
            self.layout_name = layout
            self.reflow()

    def changed(self, row: CellRow, names: list[str]) -> None:
        y = self._at.get(id(row))
        width = self.size.width
        if y is None or not width:
            return
        if self.focused and self.cursor_row() is row:
            self.refresh(Region(0, y, width, 1))  # the cursor's highlight spans the whole line
            return
        spans = row.spans(width, self.layout_name)
        self.refresh(*(Region(spans[n][0], y, spans[n][1], 1) for n in names if n in spans))

    def repaint(self, row: CellRow) -> None:
        """Every line of `row` (one under it changed)."""
        y = self._at.get(id(row))
        if y is not None and self.size.width:
            count = len(row.lines(self.size.width, self.layout_name))
            self.refresh(Region(0, y, self.size.width, count))

    def row_region(self, row: CellRow) -> Region:
        """Where `row`'s own line is on the screen."""
        region = self.content_region
        return Region(region.x, region.y + self._at[id(row)], region.width, 1)

    # ------------------------------------------------------------------ the cursor
    def cursor_row(self) -> CellRow | None:
        return self.shown[self.cursor] if 0 <= self.cursor < len(self.shown) else None

    def move(self, step: int) -> bool:
        """Move the cursor; False at either end (the panel may hand the key on)."""
        target = self.cursor + step
        if not 0 <= target < len(self.shown):
            return False
        self._repaint_cursor()
        self.cursor = target
        self._repaint_cursor()
        self._scroll_to_cursor()
        return True

    def set_focused(self, focused: bool) -> None:
        if focused != self.focused:
            self.focused = focused
            self._repaint_cursor()
            if focused:
                self._scroll_to_cursor()

    def row_at(self, y: int) -> int | None:
        """Index into `shown` of the row drawn on line `y`."""
        if 0 <= y < len(self._lines):
            return self.shown.index(self._lines[y][0])
        return None

    def put_cursor(self, index: int) -> None:
        self._repaint_cursor()
        self.cursor = index
        self._repaint_cursor()

    def _repaint_cursor(self) -> None:
        row = self.cursor_row()
        if row is not None:
            self.repaint(row)

    def _scroll_to_cursor(self) -> None:
        """The dashboard scrolls when an expanded panel is taller than the screen: keep the cursor in view."""
        row = self.cursor_row()
        if row is None or id(row) not in self._at:
            return
        for ancestor in self.ancestors:
            if isinstance(ancestor, Widget) and ancestor.is_scrollable and ancestor.max_scroll_y:
                top = self.region.y - ancestor.content_region.y + int(ancestor.scroll_y) + self._at[id(row)]
                ancestor.scroll_to_region(Region(0, top, 1, 1), animate=False, immediate=True)
                return

    def on_click(self, event: Click) -> None:
        index = self.row_at(event.y)
        clicked = getattr(self.parent, "clicked", None)  # the panel's RowCursor
        if index is not None and clicked is not None:
            event.stop()
            clicked(index, event.chain)

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self._lines)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if not 0 <= y < len(self._lines):
            return Strip.blank(width, self.visual_style.rich_style)
        row, k = self._lines[y]
        lines = row.lines(width, self.layout_name)
        content = lines[k] if k < len(lines) else Content("")
        if content.cell_length < width:
            content = content.pad_right(width - content.cell_length)
        if self.focused and k == 0 and row is self.cursor_row():
            content = content.stylize("reverse")
        # one line, already cut to width: its segments directly (a third of Visual.to_strips' cost,
        # which wraps, aligns and tags every segment with offsets for text selection)
        base = self.visual_style
        return Strip([Segment(text, style.rich_style if style else None)
                      for text, style in content.render(base, "", self._get_style)], width)


def _rank(rows: list[CellRow]) -> Callable[[CellRow], tuple[int, int]]:
    """Worst first (crit, unknown, warn, ok, not yet read), then the panel's own order."""
    order = {id(row): i for i, row in enumerate(rows)}

    def rank(row: CellRow) -> tuple[int, int]:
        status = row.status
        return (-(status.severity if status is not None else -1), order.get(id(row), 0))

    return rank


class Steady:
    """Numbers that hold still: a column shows a new value only when it moved by more than `share`
    of the shown one, or when the row's status changed (so the number always agrees with the badge).
    A latency wandering 7-8 % around its mean would otherwise repaint its cell on every poll; over a
    slow SSH link those bytes are the dashboard's main cost (DESIGN rule 7)."""

    def __init__(self, share: float = 0.1, floors: dict[str, float] | None = None) -> None:
        """floors: per value, a change this small never shows (an error ratio's 0.1 point of noise)."""
        self.share = share
        self.floors = floors or {}
        self._shown: dict[str, float | None] = {}
        self._status: Status | None = None

    def hold(self, status: Status, values: dict[str, float | None]) -> dict[str, float | None]:
        moved_status, self._status = status != self._status, status
        for name, value in values.items():
            old = self._shown.get(name)
            if moved_status or value is None or old is None or (
                    abs(value - old) > max(self.share * abs(old), self.floors.get(name, 0.0))):
                self._shown[name] = value
        return {name: self._shown[name] for name in values}


def since_text(reading: Reading, track: Track | None) -> Content:
    """`12m` in this state (`<1m` at first), and `↕3` after 3 status changes in the last 15 minutes."""
    if track is None:
        return Content("")
    held = (reading.observed_at - track.since).total_seconds()
    return Content.assemble(styled(format_minutes(held), MUTED),
                            styled(f" ↕{track.flaps}", WARN) if track.flaps else "")


def ellipsis(text: str, style: str = "") -> Content:
    """One line; a Cell cuts it with an ellipsis (its CSS: text-wrap nowrap, text-overflow ellipsis)."""
    return styled(text, style)


def short_name(name: str, width: int) -> Content:
    return styled(name if len(name) <= width else name[: width - 1] + "…", "bold")


class RowsPanel(RowCursor, Vertical, can_focus=True):
    """Rows in config order. The border subtitle holds only static hints, never a live count:
    changing a border repaints the whole panel (a tmux capture of the demo showed every line of the
    Traffic panel rewritten on each ok-count change), and a status near a threshold flips often;
    each row's badge already says it."""

    ROW: type[CellRow] = CellRow
    TITLE = ""
    HINT = "enter detail"
    BINDINGS = RowCursor.CURSOR_BINDINGS

    DEFAULT_CSS = """
    RowsPanel { height: auto; }
    """

    def __init__(self, targets: list[str], scales: dict[str, Scale] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = self.TITLE
        self.border_subtitle = self.HINT
        self.rows = {target: self.ROW(target) for target in targets}
        for target, scale in (scales or {}).items():
            if target in self.rows:
                self.rows[target].use_scale(scale)
        self.lines = RowLines(list(self.rows.values()))
        self.watch_rows()

    def compose(self):
        yield self.lines

    def set_layout(self, layout: str) -> None:
        self.lines.set_layout(layout)

    def show(self, reading: Reading, track: Track | None = None) -> None:
        row = self.rows.get(reading.target)
        if row is not None:
            moved = row.status is not reading.status
            row.status = reading.status
            row.show_reading(reading, track)
            if moved:
                self.lines.status_changed()


__all__ = ["Shown", "Cell", "Column", "Slot", "LAYOUTS", "WIDE_ENOUGH", "WALL", "CellRow", "MoreRow", "RowLines", "RowCursor", "RowsPanel", "Steady", "since_text", "ellipsis", "short_name"]
