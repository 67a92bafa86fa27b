"""Dashboard summary of the checklists: progress per phase and evidence that is failing now."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

BAR_WIDTH = 6


def progress_bar(done: int, total: int) -> Text:
    filled = round(BAR_WIDTH * done / total) if total else 0
    return Text.assemble(("█" * filled, "green"), ("░" * (BAR_WIDTH - filled), "dim"))


class ChecklistsPanel(Static, can_focus=True):
    """`summary` = ((phase, done, total), ...), failing, without data; an equal summary does not repaint."""

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
        phases, failing, no_data = summary
        line = Text()
        for phase, done, total in phases:
            if line:
                line.append("  ")
            line.append(f"{phase} ")
            line.append_text(progress_bar(done, total))
            line.append(f" {done}/{total}", style="bold green" if done == total else "")
        evidence = []
        if failing:
            evidence.append((f"{failing} with live evidence failing", "bold red"))
        if no_data:
            evidence.append((f"{no_data} waiting for live data", "magenta"))
        if evidence:
            line.append("\n")
            line.append_text(Text("  ·  ").join(Text(t, style=s) for t, s in evidence))
        self.update(line)
