"""A small modal asking for a note or a reason; a required reason cannot be left blank."""

from __future__ import annotations

from textual.content import Content
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


class ReasonModal(ModalScreen[str | None]):
    """Returns the text typed (possibly empty when not required), or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    ReasonModal { align: center middle; }
    ReasonModal > Vertical { width: 90%; max-width: 90; height: auto; border: thick $warning;
                             background: $surface; padding: 0 1; }
    ReasonModal #explain { margin-bottom: 1; }
    ReasonModal #problem { color: $error; height: auto; }
    ReasonModal Horizontal { height: auto; align-horizontal: right; }
    ReasonModal Button { margin-left: 1; }
    """

    def __init__(self, title: str, explain: Content | str, placeholder: str, required: bool, confirm: str) -> None:
        super().__init__()
        self._title = title
        self._explain = explain
        self._placeholder = placeholder
        self._required = required
        self._confirm = confirm

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self._title
            yield Static(self._explain, id="explain")
            yield Input(placeholder=self._placeholder, id="text")
            yield Static("", id="problem")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button(self._confirm, id="confirm", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#text", Input).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
        else:
            self._submit()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def _submit(self) -> None:
        text = self.query_one("#text", Input).value.strip()
        if self._required and not text:
            self.query_one("#problem", Static).update("a reason is required")
            self.query_one("#text", Input).focus()
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
