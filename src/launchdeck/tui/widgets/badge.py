"""Status glyph + word, the same on every panel: shape and word as well as colour, for colour-blind eyes."""

from __future__ import annotations

from rich.text import Text

from launchdeck.core.model import Status

GLYPH = {Status.OK: "●", Status.WARN: "▲", Status.CRIT: "✖", Status.UNKNOWN: "?"}
STYLE = {Status.OK: "green", Status.WARN: "yellow", Status.CRIT: "bold red", Status.UNKNOWN: "magenta"}
WAITING_STYLE = "dim"


def badge(status: Status | None, width: int = 10) -> Text:
    """`● ok`, `▲ warn`, `✖ crit`, `? unknown`, or a dim `… wait` before the first reading."""
    if status is None:
        return Text("… wait".ljust(width), style=WAITING_STYLE)
    return Text(f"{GLYPH[status]} {status.value}".ljust(width), style=STYLE[status])
