"""Status glyph + word, the same on every panel: shape and word as well as colour, for colour-blind eyes.
The colour is the theme's (launchdeck.tui.palette), so it follows a theme switch."""

from __future__ import annotations

from textual.content import Content

from launchdeck.core.model import Status
from launchdeck.tui.palette import MUTED, STATUS_STYLE, styled

GLYPH = {Status.OK: "●", Status.WARN: "▲", Status.CRIT: "✖", Status.UNKNOWN: "?"}
STYLE = STATUS_STYLE
WAITING_STYLE = MUTED


def badge(status: Status | None, width: int = 10) -> Content:
    """`● ok`, `▲ warn`, `✖ crit`, `? unknown`, or a dim `… wait` before the first reading."""
    if status is None:
        return styled("… wait".ljust(width), WAITING_STYLE)
    return styled(f"{GLYPH[status]} {status.value}".ljust(width), STYLE[status])
