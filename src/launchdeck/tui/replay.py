"""`launchdeck replay FILE`: the one dashboard and the one timeline over a recording, with a time cursor.

ReplayApp is LaunchdeckApp given a ReplayEngine (engine/replay.py) instead of the live Engine: the
same screens read the same surface. It adds the cursor's keys and a status line saying where the
cursor is; everything that would act (sign, verify, deploy) is off, as nothing is live.
"""

from __future__ import annotations

from datetime import datetime

from textual.binding import Binding
from textual.widgets import Footer, Static

from launchdeck.core.config import Config
from launchdeck.engine.replay import ReplayEngine
from launchdeck.tui.app import LaunchdeckApp
from launchdeck.tui.palette import styled


class ReplayBar(Static):
    """REPLAY hh:mm:ss of hh:mm–hh:mm, and the keys that move it."""

    DEFAULT_CSS = """
    ReplayBar { height: 1; padding: 0 1; background: $warning 40%; text-wrap: nowrap; text-overflow: ellipsis; }
    """


KEYS_HELP = "[ ] 10s  { } 1m  n p incident  t timeline"


class ReplayApp(LaunchdeckApp):
    BINDINGS = [
        Binding("right_square_bracket", "step(10)", "+10s", key_display="]", show=False),
        Binding("left_square_bracket", "step(-10)", "-10s", key_display="[", show=False),
        Binding("right_curly_bracket", "step(60)", "+1m", key_display="}", show=False),
        Binding("left_curly_bracket", "step(-60)", "-1m", key_display="{", show=False),
        Binding("n", "incident(1)", "Next incident", show=False),
        Binding("p", "incident(-1)", "Prev incident", show=False),
    ]

    def __init__(self, config: Config, engine: ReplayEngine, at: datetime | None = None) -> None:
        super().__init__(config, engine, actions_enabled=False)  # type: ignore[arg-type]  # the same surface
        self.replay = engine
        self._at = at
        self.title = f"launchdeck replay · {config.deck.name}"

    def on_mount(self) -> None:
        """Before LaunchdeckApp's own on_mount (Textual calls both): the cursor is placed before the
        dashboard subscribes, and the bar goes onto the dashboard once that is shown."""
        if self._at is not None:
            self.replay.seek(self._at)
        self.call_after_refresh(self._add_bar)

    def _add_bar(self) -> None:
        """Above the footer, in the dashboard's flow (docked, it would cover the footer's keys)."""
        footers = self.dashboard.query(Footer)
        if footers:
            self.dashboard.mount(ReplayBar(id="replay-bar"), before=footers.first())
        else:
            self.dashboard.mount(ReplayBar(id="replay-bar"))
        self.show_cursor()

    def show_cursor(self) -> None:
        """The bar, every sparkline (only readings up to the cursor: a row keeps what it was shown, which
        after a jump back lies in the future, and a long step forward publishes only each newest), and
        the timeline."""
        history = self.replay.state.history
        self.dashboard.redraw_history(lambda panel, target: history.oldest_first(panel, target))
        line = styled(f"{self.replay.status_line()} · {KEYS_HELP}", "bold")
        for bar in self.dashboard.query(ReplayBar):
            bar.update(line)
        follow = getattr(self.screen, "follow", None)
        if callable(follow):  # the timeline: its log was rebuilt or grew
            follow()

    def action_step(self, seconds: int) -> None:
        self.replay.step(seconds)
        self.show_cursor()

    def action_incident(self, direction: int) -> None:
        moved = self.replay.next_incident() if direction > 0 else self.replay.previous_incident()
        if moved is None:
            self.notify(f"no {'later' if direction > 0 else 'earlier'} incident in this recording", timeout=3)
        self.show_cursor()

    def action_refresh(self) -> None:
        self.notify("a replay polls nothing: [ ] { } move the cursor, n / p jump to incidents", timeout=4)


__all__ = ["ReplayApp", "ReplayBar"]
