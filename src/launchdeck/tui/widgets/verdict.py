"""Go / No-Go: one verdict derived from every reading, with the reasons that decided it."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from launchdeck.core.model import Status, Verdict

VERDICT_STYLE = {Status.OK: "bold black on green", Status.WARN: "bold black on yellow",
                 Status.CRIT: "bold white on red", Status.UNKNOWN: "bold white on magenta"}


class VerdictBar(Static):
    DEFAULT_CSS = """
    VerdictBar { height: 1; padding: 0 1; }
    """

    verdict: reactive[Verdict | None] = reactive(None, layout=False)

    def render(self) -> Text:
        verdict = self.verdict
        if verdict is None:
            return Text("… waiting for the first readings", style="dim")
        line = Text.assemble((f" {verdict.word.upper()} ", VERDICT_STYLE[verdict.status]), " ")
        if verdict.status is Status.OK:
            line.append("every check is ok", style="green")
        else:
            line.append(verdict.reasons[0])
            if len(verdict.reasons) > 1:
                line.append(f"  (+{len(verdict.reasons) - 1} more)", style="dim")
        line.no_wrap = True
        line.overflow = "ellipsis"
        return line
