"""The top line: deck name, environment (production stands out) and the read-only badge; on the right
a clock and whether the data is live. Past two refresh intervals without a reading it counts the
seconds ("updated 12s ago"), and past three it turns warn-coloured: a frozen screen never looks calm.

Over SSH every changed cell is bytes: a seconds clock and a ticking "updated 3s ago" cost ~107 B/s at
120x40 (issue 14's bar is the whole dashboard at 214 B/s). So the clock shows minutes, fresh data
says "live", and the widget repaints only when its text changes (once a minute while all is well)."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from textual.content import Content
from textual.timer import Timer
from textual.widgets import Static

from launchdeck.core.units import format_duration
from launchdeck.tui.palette import (ACTIONS_ENABLED_FILL, ENVIRONMENT_FILL, MUTED, PRODUCTION_FILL, READ_ONLY_FILL,
                                    WARN, styled)

LIVE_WITHIN_INTERVALS = 2  # the newest reading is at most this many refresh intervals old: "live"
STALE_AFTER_INTERVALS = 3
CLOCK_LEAST, CLOCK_MOST = 16, 41  # "12:00 UTC · live" .. "12:00 UTC · updated 12m05s ago (stale)"
# () -> (now, when the newest reading was taken or None, the refresh interval in seconds)
Freshness = Callable[[], tuple[datetime, "datetime | None", float]]


def freshness_text(now: datetime, newest: datetime | None, refresh: float) -> Content:
    """`18:40 UTC · live`; `18:40 UTC · updated 12s ago` once a reading is late, warn-coloured and
    `(stale)` past three refresh intervals."""
    clock = styled(now.strftime("%H:%M %Z").strip(), "bold")
    if newest is None:
        return Content.assemble(clock, styled(" · waiting for data", MUTED))
    age = max(0.0, (now - newest).total_seconds())
    if age <= LIVE_WITHIN_INTERVALS * refresh:
        return Content.assemble(clock, styled(" · live", MUTED))
    stale = age > STALE_AFTER_INTERVALS * refresh
    words = f" · updated {f'{age:.0f}s' if age < 60 else format_duration(round(age))} ago" + (" (stale)" if stale else "")
    return Content.assemble(clock, styled(words, f"bold {WARN}" if stale else MUTED))


class HeaderClock(Static):
    """The header's right end, a widget of its own: a tick repaints these cells only (Textual sends a
    changed widget's cells, so as part of the header line each second cost the whole line: ~390
    bytes/s at 120 columns)."""

    DEFAULT_CSS = """
    HeaderClock { dock: right; height: 1; width: 44; text-align: right; text-wrap: nowrap; }
    """

    def __init__(self, freshness: Freshness) -> None:
        super().__init__("")
        self.freshness = freshness
        self._shown: Content | None = None

    def render(self) -> Content:
        self._shown = freshness_text(*self.freshness())
        return self._shown

    def tick(self) -> None:
        """Repaint only when the text changed: a repaint of the same words is bytes for nothing."""
        if freshness_text(*self.freshness()) != self._shown:
            self.refresh()


class DeckHeader(Static):
    DEFAULT_CSS = """
    DeckHeader { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self, name: str, environment: str, production: bool, actions_enabled: bool,
                 freshness: Freshness | None = None) -> None:
        self._left = self.compose_line(name, environment, production, actions_enabled)
        self._freshness = freshness
        self._timer: Timer | None = None
        self.clock = HeaderClock(freshness) if freshness is not None else None
        super().__init__(self._left, id="deck-header")
        self.set_class(production, "-production")

    def compose(self):
        if self.clock is not None:
            yield self.clock

    def on_mount(self) -> None:
        if self.clock is not None:
            self._timer = self.set_interval(1.0, self.clock.tick)

    def on_resize(self) -> None:
        """The clock takes the room the name and badges leave, or stays out when there is too little."""
        if self.clock is not None:
            room = self.content_region.width - self._left.cell_length - 2
            self.clock.display = room >= CLOCK_LEAST
            self.clock.styles.width = max(CLOCK_LEAST, min(CLOCK_MOST, room))

    def pause(self) -> None:
        """Its screen is hidden (another screen over it): no timer runs for it (DESIGN rule 7)."""
        if self._timer is not None:
            self._timer.pause()

    def resume(self) -> None:
        if self._timer is not None and self.clock is not None:
            self._timer.resume()
            self.clock.refresh()

    def clock_text(self) -> str:
        """What the clock shows now ("" without one): for tests and the wall."""
        return self.clock.render().plain if self.clock is not None else ""

    @staticmethod
    def compose_line(name: str, environment: str, production: bool, actions_enabled: bool) -> Content:
        return Content.assemble(
            styled("launchdeck", "bold"), "  ", styled(name, "bold"), "  ",
            styled(f" {environment.upper()} ", PRODUCTION_FILL if production else ENVIRONMENT_FILL), "  ",
            styled(" ACTIONS ENABLED ", ACTIONS_ENABLED_FILL) if actions_enabled
            else styled(" READ-ONLY ", READ_ONLY_FILL))
