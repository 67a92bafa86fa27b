"""Go / No-Go: one verdict derived from every reading, with the reasons that decided it. Enter (or a
click) on it lists every reason; each opens its target's detail."""

from __future__ import annotations

from textual.binding import Binding
from textual.content import Content
from textual.events import Click
from textual.reactive import reactive
from textual.widgets import Static

from launchdeck.core.model import Status, Verdict
from launchdeck.tui.messages import ReasonsRequested
from launchdeck.tui.palette import MUTED, OK, STATUS_FILL, styled

VERDICT_STYLE = STATUS_FILL


class VerdictBar(Static, can_focus=True):
    HELP_TITLE = "Go / No-Go verdict"
    BINDINGS = [Binding("enter", "reasons", "All reasons")]
    DEFAULT_CSS = """
    VerdictBar { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    VerdictBar:focus { background: $boost; }
    """

    verdict: reactive[Verdict | None] = reactive(None, layout=False)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def render(self) -> Content:
        verdict = self.verdict
        if verdict is None:
            return styled("… waiting for the first readings", MUTED)
        word = styled(f" {verdict.word.upper()} ", VERDICT_STYLE[verdict.status])
        if verdict.status is Status.OK:
            return Content.assemble(word, " ", styled("every check is ok", OK))
        more = len(verdict.reasons) - 1
        return Content.assemble(word, " ", styled(verdict.reasons[0]),
                                styled(f"  (+{more} more)", MUTED) if more > 0 else "",
                                styled("  enter lists them", MUTED) if more > 0 and self.has_focus else "")

    def action_reasons(self) -> None:
        self.post_message(ReasonsRequested())

    def on_click(self, event: Click) -> None:
        event.stop()
        self.focus()
        self.post_message(ReasonsRequested())
