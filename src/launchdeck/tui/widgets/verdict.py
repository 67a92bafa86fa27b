"""Go / No-Go: one verdict derived from every reading, with the reasons that decided it."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from launchdeck.core.model import Status, Verdict
from launchdeck.tui.palette import MUTED, OK, STATUS_FILL, styled

VERDICT_STYLE = STATUS_FILL


class VerdictBar(Static):
    DEFAULT_CSS = """
    VerdictBar { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    verdict: reactive[Verdict | None] = reactive(None, layout=False)

    def render(self) -> Content:
        verdict = self.verdict
        if verdict is None:
            return styled("… waiting for the first readings", MUTED)
        word = styled(f" {verdict.word.upper()} ", VERDICT_STYLE[verdict.status])
        if verdict.status is Status.OK:
            return Content.assemble(word, " ", styled("every check is ok", OK))
        more = len(verdict.reasons) - 1
        return Content.assemble(word, " ", styled(verdict.reasons[0]),
                                styled(f"  (+{more} more)", MUTED) if more > 0 else "")
