"""The one pattern every list panel uses: a panel of rows keyed by target, each row a line of
cells, and only a cell whose text changed is repainted (DESIGN rule 7: bytes are the cost over SSH).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.segment import Segment
from textual.containers import Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from launchdeck.core.model import Reading, Status
from launchdeck.engine.tracking import Track
from launchdeck.core.units import format_minutes
from launchdeck.tui.palette import MUTED, WARN, styled


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


class RowLines(Widget):
    """Draws a panel's rows, a line each (Textual's line API): only lines on screen are rendered, and
    a changed column repaints only its own cells (`refresh(region)`), so over SSH the bytes stay those
    of the changed text (DESIGN rule 7)."""

    DEFAULT_CSS = """
    RowLines { height: auto; }
    """

    def __init__(self, rows: list[CellRow] | None = None, layout: str = "normal") -> None:
        super().__init__()
        self.layout_name = layout
        self.rows: list[CellRow] = []
        self._at: dict[int, int] = {}  # id(row) -> its first line
        self._lines: list[tuple[CellRow, int]] = []  # line -> (row, which of its lines)
        self.set_rows(rows or [])

    def set_rows(self, rows: list[CellRow]) -> None:
        """The rows shown, in this order (a sort, a filter, a container gone)."""
        if [id(r) for r in rows] == [id(r) for r in self.rows]:
            return
        for row in rows:
            row.owner = self
        self.rows = list(rows)
        self.reflow()

    def reflow(self) -> None:
        """Lines again from the rows: after a change of rows, of layout, or of a row's line count."""
        width = self.size.width or 80
        lines, at = [], {}
        for row in self.rows:
            at[id(row)] = len(lines)
            lines += [(row, k) for k in range(len(row.lines(width, self.layout_name)))]
        grew = len(lines) != len(self._lines)
        self._lines, self._at = lines, at
        self.refresh(layout=grew)

    def set_layout(self, layout: str) -> None:
        if layout != self.layout_name:
            self.layout_name = layout
            self.reflow()

    def changed(self, row: CellRow, names: list[str]) -> None:
        y = self._at.get(id(row))
        width = self.size.width
        if y is None or not width:
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
        # one line, already cut to width: its segments directly (a third of Visual.to_strips' cost,
        # which wraps, aligns and tags every segment with offsets for text selection)
        base = self.visual_style
        return Strip([Segment(text, style.rich_style if style else None)
                      for text, style in content.render(base, "", self._get_style)], width)


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


class RowsPanel(Vertical, can_focus=True):
    """Rows in config order. The border subtitle holds only static hints, never a live count:
    changing a border repaints the whole panel (a tmux capture of the demo showed every line of the
    Traffic panel rewritten on each ok-count change), and a status near a threshold flips often;
    each row's badge already says it."""

    ROW: type[CellRow] = CellRow
    TITLE = ""
    HINT = ""

    DEFAULT_CSS = """
    RowsPanel { height: auto; }
    """

    def __init__(self, targets: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = self.TITLE
        self.border_subtitle = self.HINT
        self.rows = {target: self.ROW(target) for target in targets}
        self.lines = RowLines(list(self.rows.values()))

    def compose(self):
        yield self.lines

    def set_layout(self, layout: str) -> None:
        self.lines.set_layout(layout)

    def show(self, reading: Reading, track: Track | None = None) -> None:
        row = self.rows.get(reading.target)
        if row is not None:
            row.show_reading(reading, track)


__all__ = ["Shown", "Cell", "Column", "Slot", "LAYOUTS", "WIDE_ENOUGH", "WALL", "CellRow", "RowLines", "RowsPanel", "Steady", "since_text", "ellipsis", "short_name"]
