"""Dashboard summary of the checklists: progress per phase, evidence that is failing now, and a
ledger whose chain is broken (its sign-offs are not all counted: said here, not only in a toast).

A line per phase when there is room; on a short screen (80x24) one line with every phase's count
and the failing evidence, so the panel's worst news stays in view."""

from __future__ import annotations

from typing import Callable

from textual.binding import Binding
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from launchdeck.tui.messages import RoomChanged
from launchdeck.tui.palette import CRIT, MUTED, OK, UNKNOWN, styled

BAR_WIDTH = 6  # the compact line's bars
BAR_MOST = 40  # a phase's own line: the bar takes the room left, up to this
COMPLETE_STYLE = f"bold {OK}"
PHASE_WIDTH = 12


def progress_bar(done: int, total: int, width: int = BAR_WIDTH) -> Content:
    filled = round(width * done / total) if total else 0
    return Content.assemble(styled("█" * filled, OK), styled("░" * (width - filled), MUTED))


class ChecklistsPanel(Static, can_focus=True):
    """`summary` = ((phase, done, total), ...), failing, without data, the ledger's integrity problem;
    an equal summary does not repaint."""

    BINDINGS = [Binding("enter", "app.checklists", "Open checklists")]
    DEFAULT_CSS = """
    ChecklistsPanel { height: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    summary: reactive[tuple] = reactive((), layout=True)

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.border_title = "Checklists"
        self.border_subtitle = "enter or c: open"
        self.budget: int | None = None
        self.problem = ""  # the checklists could not be read (what and where): shown instead of progress
        # () -> (phase, the texts of its open items): the first phase not done, filling lines left over
        self.open_items: Callable[[], tuple[str, list[str]]] | None = None
        self._wanted = 0

    def wanted_lines(self) -> int:
        return self._wanted

    def least_lines(self) -> int:
        return 1

    def set_budget(self, lines: int | None) -> None:
        if lines != self.budget:
            self.budget = lines
            self._draw()

    def on_resize(self) -> None:
        self._draw()

    def watch_summary(self, summary: tuple) -> None:
        self._draw()

    def _parts(self) -> tuple[list, list[Content], str]:
        phases, failing, no_data, *rest = self.summary
        evidence = []
        if failing:
            evidence.append(styled(f"{failing} with live evidence failing", CRIT))
        if no_data:
            evidence.append(styled(f"{no_data} waiting for live data", UNKNOWN))
        return list(phases), evidence, (rest[0] if rest else "")

    def _draw(self) -> None:
        if not self.summary:
            if self.problem:
                self.update(styled(self.problem, CRIT))
                self._wanted = 2
            return
        phases, evidence, problem = self._parts()
        wanted = len(phases) + (1 if evidence else 0) + (1 if problem else 0)
        lines = self._full(phases, evidence, problem) if self.budget is None or self.budget >= wanted \
            else self._compact(phases, evidence, problem)
        room = self.content_region.height - len(lines)
        if room >= 2 and self.open_items is not None:
            lines += self._next(room)
        self.update(Content("\n").join(lines))
        if wanted != self._wanted:
            self._wanted = wanted
            self.post_message(RoomChanged())

    def _full(self, phases: list, evidence: list[Content], problem: str) -> list[Content]:
        width = self.content_region.width or 76
        bar = max(BAR_WIDTH, min(BAR_MOST, width - PHASE_WIDTH - 12))
        lines = [Content.assemble(styled(phase.ljust(PHASE_WIDTH)), progress_bar(done, total, bar),
                                  styled(f" {done}/{total}", COMPLETE_STYLE if done == total else ""))
                 for phase, done, total in phases]
        if evidence:
            lines.append(Content("  ·  ").join(evidence))
        if problem:
            lines.append(styled(f"{problem}; c: details and the repair command", CRIT))
        return lines

    def _next(self, room: int) -> list[Content]:
        """Lines the screen has to spare: the open items of the first phase not done, in order."""
        phase, texts = self.open_items() if self.open_items else ("", [])
        if not texts:
            return []
        shown = texts[:room - 1] if len(texts) <= room - 1 else texts[:room - 2]
        lines = [styled(f"open in {phase}:", MUTED)] + [styled(f"  ☐ {text}") for text in shown]
        if len(shown) < len(texts):
            lines.append(styled(f"  +{len(texts) - len(shown)} more · enter opens the checklists", MUTED))
        return lines

    def _compact(self, phases: list, evidence: list[Content], problem: str) -> list[Content]:
        """One line (two with a ledger problem and room for it): the problem first, it is the worst."""
        counts = Content(" · ").join([Content.assemble(styled(f"{phase} "), styled(
            f"{done}/{total}", COMPLETE_STYLE if done == total else "")) for phase, done, total in phases])
        line = Content.assemble(counts, *(["  ", Content(" · ").join(evidence)] if evidence else []))
        if problem:
            alarm = styled(f"{problem}; c: details", CRIT)
            return [alarm, line] if (self.budget or 1) > 1 else [alarm]
        return [line]


def open_items_of(session) -> Callable[[], tuple[str, list[str]]]:
    """The first phase with open items, and their texts, read from the session's board (replaced whole
    by the engine, so a copy of its list is consistent; read again if it changed under us)."""

    def read() -> tuple[str, list[str]]:
        for _ in range(3):
            try:
                board = session.board
                for phase in board.phases():
                    texts = [state.item.text for state in board.phase(phase) if not state.done]
                    if texts:
                        return phase, texts
                return "", []
            except (RuntimeError, KeyError):  # changed while read on the engine's thread: read again
                continue
        return "", []

    return read
