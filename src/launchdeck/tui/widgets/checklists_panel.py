"""Dashboard summary of the checklists: progress per phase, evidence that is failing now, and a
ledger whose chain is broken (its sign-offs are not all counted: said here, not only in a toast)."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from launchdeck.tui.palette import CRIT, MUTED, OK, UNKNOWN, styled

BAR_WIDTH = 6
COMPLETE_STYLE = f"bold {OK}"


def progress_bar(done: int, total: int) -> Content:
    filled = round(BAR_WIDTH * done / total) if total else 0
    return Content.assemble(styled("█" * filled, OK), styled("░" * (BAR_WIDTH - filled), MUTED))


class ChecklistsPanel(Static, can_focus=True):
    """`summary` = ((phase, done, total), ...), failing, without data, the ledger's integrity problem;
    an equal summary does not repaint."""

    DEFAULT_CSS = """
    ChecklistsPanel { height: auto; }
    """

    summary: reactive[tuple] = reactive((), layout=True)

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.border_title = "Checklists"
        self.border_subtitle = "c: open"

    def watch_summary(self, summary: tuple) -> None:
        if not summary:
            return
        phases, failing, no_data, *rest = summary
        problem = rest[0] if rest else ""
        parts: list[Content | str] = []
        for phase, done, total in phases:
            if parts:
                parts.append("  ")
            parts += [styled(f"{phase} "), progress_bar(done, total),
                      styled(f" {done}/{total}", COMPLETE_STYLE if done == total else "")]
        evidence = []
        if failing:
            evidence.append(styled(f"{failing} with live evidence failing", CRIT))
        if no_data:
            evidence.append(styled(f"{no_data} waiting for live data", UNKNOWN))
        if evidence:
            parts += ["\n", Content("  ·  ").join(evidence)]
        if problem:
            parts += ["\n", styled(f"{problem}; c: details and the repair command", CRIT)]
        self.update(Content.assemble(*parts))
