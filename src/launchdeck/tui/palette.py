"""Colours that mean something (a status, a verification, a container's health, a checklist mark),
in one place, as Textual styles naming theme variables.

A style here is a string such as `"bold $text-error"`, put on a span of `textual.content.Content`;
Textual resolves the variables against the current theme each time the widget renders. Switching
theme at run time (`App.theme`, or ctrl+p → "Change theme") restyles every widget, and so repaints
these spans in the new theme's colours; nothing here holds a colour value.

Text colours use `$text-success`, `$text-warning`, ... rather than `$success`, `$warning`: Textual
derives the text-* variables from the theme so that they stay legible on its background. On
`textual-light`, `$warning` (#ffa62b) on the background (#e0e0e0) is 1.5:1, `$text-warning` 3.3:1.
Blocks of colour (the verdict, the header badges) use the plain variables as the background and
`$text` (auto: black or white, whichever contrasts) as the foreground.

User text is data (DESIGN rule 9): build with `styled()` or `Content.assemble`, which never parse
markup; never put a name, a reason or a file name into `Content.from_markup`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.content import Content
from textual.css.errors import UnresolvedVariableError
from textual.style import Style as VisualStyle
from textual.theme import Theme

from launchdeck.core.model import Status
from launchdeck.core.plain import visible

if TYPE_CHECKING:
    from textual.app import App

# What a mark means, whatever it marks. Shape and word say it as well (colour-blind eyes).
OK = "$text-success"
WARN = "$text-warning"
CRIT = "bold $text-error"
UNKNOWN = "$text-secondary"
INFO = "$text-primary"  # who signed and when: neither good nor bad
MUTED = "dim"  # blends towards the background on every theme
KEY = "bold $text-primary"  # a key or a name to look up (help)

STATUS_STYLE = {Status.OK: OK, Status.WARN: WARN, Status.CRIT: CRIT, Status.UNKNOWN: UNKNOWN}

# A status as a block of colour (the Go / No-Go verdict).
STATUS_FILL = {Status.OK: "bold $text on $success", Status.WARN: "bold $text on $warning",
               Status.CRIT: "bold $text on $error", Status.UNKNOWN: "bold $text on $secondary"}

# The header's badges.
PRODUCTION_FILL = "bold $text on $error"
ENVIRONMENT_FILL = "bold $text on $primary"
ACTIONS_ENABLED_FILL = "bold $text on $warning"
READ_ONLY_FILL = "bold $text on $foreground-darken-2"  # opaque: on the production header, not pink


def styled(text: str, style: str = "") -> Content:
    """`text` as it is (no markup, control characters shown: launchdeck.core.plain), in `style`."""
    return Content.styled(visible(text), style) if text else Content("")


class TableText(Content):
    """Content for a DataTable cell. DataTable measures and renders its cells through Rich, which can
    neither measure Content nor read theme variables; this hands Rich a Text in the current theme's
    colours each time the table renders the cell (a theme switch clears the table's render caches)."""

    __slots__ = ()

    def __rich__(self) -> Text:
        text = Text(self.plain, end="")
        for start, end, style in self.spans:
            try:
                parsed = VisualStyle.parse(style) if isinstance(style, str) else style
            except UnresolvedVariableError:  # no running app (a plain Rich console): no theme, no colour
                continue
            text.stylize(parsed.rich_style, start, end)
        return text


HIGH_CONTRAST = Theme(
    name="launchdeck-high-contrast",
    primary="#4da6ff",
    secondary="#e580ff",  # unknown: magenta, as the dashboard has always shown it
    accent="#ffe14d",
    warning="#ffd000",
    error="#ff5c5c",
    success="#3ddc84",
    foreground="#ffffff",
    background="#000000",
    surface="#000000",
    panel="#1f1f1f",
    dark=True,
    variables={
        # the marks at full strength rather than Textual's 66 % tint towards white
        "text-success": "#3ddc84",
        "text-warning": "#ffd000",
        "text-error": "#ff6b6b",
        "text-secondary": "#e580ff",
        "text-primary": "#6cb8ff",
        "text-accent": "#ffe14d",
        "text-muted": "#c8c8c8",
        "border": "#ffffff",
        "border-blurred": "#8a8a8a",
        "footer-key-foreground": "#ffe14d",
        "block-cursor-foreground": "#000000",
        "block-cursor-background": "#ffe14d",
        "block-cursor-text-style": "bold",
        "input-selection-background": "#4da6ff 50%",
    },
)
"""Black background, white text and saturated marks: every mark is at least 7:1 on the background."""

THEMES = (HIGH_CONTRAST,)


def no_colour(app: App) -> None:
    """NO_COLOR (no-color.org): no colour codes at all. Textual's own answer is a greyscale filter,
    which still sends a 24-bit colour for every cell; this swaps it for one that drops colour and
    keeps bold, dim, underline and reverse, so status words and marks still stand out."""
    from textual.filter import Monochrome, NoColor

    if app.no_color:
        app._filters = [f for f in app._filters if not isinstance(f, Monochrome)] + [NoColor()]


def register_themes(app: App) -> None:
    """Make launchdeck's themes selectable (`App.theme = "launchdeck-high-contrast"`, or the command
    palette). Call it from the app's constructor, before anything sets `App.theme`."""
    for theme in THEMES:
        app.register_theme(theme)


__all__ = ["OK", "WARN", "CRIT", "UNKNOWN", "INFO", "MUTED", "KEY", "STATUS_STYLE", "STATUS_FILL", "PRODUCTION_FILL",
           "ENVIRONMENT_FILL", "ACTIONS_ENABLED_FILL", "READ_ONLY_FILL", "HIGH_CONTRAST", "THEMES", "TableText", "styled",
           "no_colour", "register_themes"]
