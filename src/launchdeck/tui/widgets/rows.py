"""The one pattern every list panel uses: a panel of rows keyed by target, each row a line of
cells, and only a cell whose text changed is repainted (DESIGN rule 7: bytes are the cost over SSH).
"""

from __future__ import annotations

from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.reactive import reactive
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
    DEFAULT_CSS = """
    Cell { height: 1; width: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    text: reactive[Content] = reactive(Shown(), layout=False)

    def validate_text(self, text: Content | str) -> Shown:
        return Shown.of(text)

    def render(self) -> Content:
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

    def show(self, texts: dict[str, Content]) -> None:
        for name, text in texts.items():
            self.cells[name].text = text  # reactive: an equal text in equal styles does not repaint

    def plain(self) -> str:
        return " ".join(cell.text.plain for cell in self.cells.values())

    def show_reading(self, reading: Reading, track: Track | None) -> None:
        raise NotImplementedError


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

    def compose(self):
        yield from self.rows.values()

    def show(self, reading: Reading, track: Track | None = None) -> None:
        row = self.rows.get(reading.target)
        if row is not None:
            row.show_reading(reading, track)


__all__ = ["Shown", "Cell", "CellRow", "RowsPanel", "Steady", "since_text", "ellipsis", "short_name"]
