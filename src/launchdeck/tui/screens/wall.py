"""The wall: the Go / No-Go verdict in letters readable across a room, its reasons, and the few
numbers that matter, for a TV in the war room (`launchdeck wall`, or `w` on the dashboard).

Read-only whatever the flags: it is a modal screen (the app's keys, deploy / rollback / restore
among them, do not reach past it) and the command palette is off while it is shown. It draws one
`WallSummary` (engine/summary.py, the browser view draws the same one) once a second, from the
engine's snapshot; a part repaints only when its text changed. The clock and the age of the newest
reading tell the room the data is live; when readings stop, a loud block says so.

Three sizes: compact (an 80x24 SSH session: the band, then one line per figure), normal (120x40:
figures in big digits) and huge (200x60 on a 1080p TV: everything twice as big). Reasons that do
not fit cycle in pages every PAGE_SECONDS.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal
from textual.content import Content
from textual.css.query import NoMatches
from textual.events import Resize
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Static

from launchdeck.core.config import Config
from launchdeck.core.history import ReadingHistory
from launchdeck.core.model import Clock, Status
from launchdeck.core.units import format_duration
from launchdeck.engine.state import Snapshot
from launchdeck.engine.summary import Figure, WallSummary, summarize
from launchdeck.tui.palette import (
    CRIT,
    ENVIRONMENT_FILL,
    MUTED,
    OK,
    PRODUCTION_FILL,
    STATUS_STYLE,
    styled,
)
from launchdeck.tui.widgets.bigtext import big, big_width, supported
from launchdeck.tui.widgets.spark import BARS

TICK_SECONDS = 1.0
PAGE_SECONDS = 10.0
COMPACT_BELOW = (100, 32)  # columns, rows: below either, figures are one line each
TALL_BAND_FROM = 38  # rows from which the verdict's letters are twice as big (120x40)
HUGE_FROM = (180, 52)  # from both: figures twice as big, the verdict three times (200x60 on a TV)
GLYPH = {Status.OK: "●", Status.WARN: "▲", Status.CRIT: "✖", Status.UNKNOWN: "?"}
STALE_FILL = "bold reverse $text-error"  # loud without blinking, on every theme
# Stale: the verdict's band loses its colour (a frozen GO must not look calm) and an inverted block,
# unlike any verdict's colour, says since when nothing came.


@dataclass
class WallSource:
    """Where a wall reads from: the engine's snapshot and history, the checklist summary, a clock.
    Tests feed a LiveState and a FixedClock instead of an engine."""

    config: Config
    clock: Clock
    snapshot: Callable[[], Snapshot]
    history: ReadingHistory | None = None
    checklists: Callable[[], tuple | None] = field(default=lambda: None)

    def summary(self) -> WallSummary:
        return summarize(self.snapshot(), self.config, self.checklists() or None, self.history)

    @classmethod
    def of_engine(cls, engine: Any, checklists: Callable[[], tuple | None]) -> WallSource:
        return cls(engine.config, engine.clock, engine.snapshot, engine.state.history, checklists)


class WallScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    WallScreen { background: $background; layout: vertical; }
    #wall-top { height: 1; background: $panel; }
    #wall-title { width: 1fr; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    #wall-clock { width: auto; padding: 0 1; }
    #wall-band { height: auto; padding: 1 0; text-align: center; text-style: bold; }
    #wall-band.-ok { background: $success; color: $text; }
    #wall-band.-warn { background: $warning; color: $text; }
    #wall-band.-crit { background: $error; color: $text; }
    #wall-band.-unknown { background: $secondary; color: $text; }
    #wall-stale { display: none; height: auto; text-align: center; background: $foreground; color: $background;
                  text-style: bold; }  /* a full-width light block: under NO_COLOR the big letters still say it */
    WallScreen.-stale #wall-band { background: $panel; color: $text-muted; }
    WallScreen.-stale #wall-stale { display: block; }
    #wall-reasons { height: 1fr; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    #wall-figures { height: auto; grid-size: 3; grid-rows: auto; grid-gutter: 0 1; padding: 0 1; }
    .wall-figure { height: auto; border: round $foreground-darken-2; border-title-style: bold;
                   border-title-color: $text; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis;
                   text-align: center; }
    .wall-figure.-ok { border: round $success; }
    .wall-figure.-warn { border: heavy $warning; }
    .wall-figure.-crit { border: heavy $error; }
    .wall-figure.-unknown { border: round $secondary; }
    #wall-figline { display: none; height: auto; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    WallScreen.-compact #wall-figures { display: none; }
    WallScreen.-compact #wall-figline { display: block; }
    """

    BINDINGS = [
        Binding("escape,w", "close", "Back to the dashboard"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, source: WallSource, closable: bool = True) -> None:
        super().__init__(id="wall")
        self.source = source
        self.closable = closable
        self.summary = source.summary()
        self._shown: dict[str, Any] = {}  # what each part last drew: a part repaints only when it changed
        self._timer: Timer | None = None
        self._palette_was: bool | None = None
        self._band_scale = 1
        self._width = 80

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        with Horizontal(id="wall-top"):
            yield Static(id="wall-title")
            yield Static(id="wall-clock")
        yield Static(id="wall-band")
        yield Static(id="wall-stale")
        yield Static(id="wall-reasons")
        with Grid(id="wall-figures"):
            for figure in self.summary.figures:
                yield Static(id=f"fig-{figure.key}", classes="wall-figure")
        yield Static(id="wall-figline")

    def on_mount(self) -> None:
        self._timer = self.set_interval(TICK_SECONDS, self.tick)
        self._fit(self.app.size.width, self.app.size.height)
        self.tick()

    def on_resize(self, event: Resize) -> None:
        self._fit(event.size.width, event.size.height)
        self.call_after_refresh(self.tick)  # the reasons' new height decides the page size

    def on_screen_resume(self) -> None:
        """Shown: no palette (it lists deploy / rollback / restore), the clock ticks again."""
        if self._palette_was is None:
            self._palette_was = self.app.use_command_palette
        self.app.use_command_palette = False
        if self._timer is not None:
            self._timer.resume()
            self.tick()

    def on_screen_suspend(self) -> None:
        """Hidden (back on the dashboard): no timer runs for a screen nobody sees."""
        if self._palette_was is not None:
            self.app.use_command_palette = self._palette_was
            self._palette_was = None
        if self._timer is not None:
            self._timer.pause()

    def on_unmount(self) -> None:
        self.on_screen_suspend()

    def action_close(self) -> None:
        if self.closable:
            self.app.pop_screen()

    @property
    def scale(self) -> int:
        """The figures' scale."""
        return 2 if self.has_class("-huge") else 1

    def _fit(self, width: int, height: int) -> None:
        compact = width < COMPACT_BELOW[0] or height < COMPACT_BELOW[1]
        huge = not compact and width >= HUGE_FROM[0] and height >= HUGE_FROM[1]
        self.set_class(compact, "-compact")
        self.set_class(huge, "-huge")
        self._band_scale = 3 if huge else 2 if not compact and height >= TALL_BAND_FROM else 1
        self._width = width
        with contextlib.suppress(NoMatches):  # before compose has run
            grid = self.query_one("#wall-figures", Grid)
            grid.styles.grid_size_columns = max(1, min(3, len(self.summary.figures)))
        self._shown.clear()  # sizes changed: draw every part again

    # ------------------------------------------------------------------ drawing
    def tick(self) -> None:
        """Once a second: a new summary, the clock, the data's age; each part drawn only if changed."""
        if not self.is_mounted:
            return
        self.summary = summary = self.source.summary()
        now, mono = self.source.clock.now(), self.source.clock.monotonic()
        stale = summary.is_stale(now)
        self.set_class(stale, "-stale")
        self._draw("wall-title", self._title(summary))
        self._draw("wall-clock", self._clock(summary, now, stale))
        band = summary.verdict.status
        word = summary.verdict.word.upper()
        scale = next((n for n in range(self._band_scale, 1, -1) if big_width(word, n) <= self._width - 2), 1)
        self._draw("wall-band", big(word, scale=scale), f"-{band.value}")
        if stale:
            self._draw("wall-stale", self._stale(summary, now))
        self._draw("wall-reasons", self._reasons(summary, mono))
        if self.has_class("-compact"):
            self._draw("wall-figline", self._figure_lines(summary.figures))
        else:
            for figure in summary.figures:
                with contextlib.suppress(NoMatches):  # a figure the first summary did not have
                    width = self.query_one(f"#fig-{figure.key}").content_size.width or 30
                    self._draw(f"fig-{figure.key}", self._figure(figure, width), f"-{figure.status.value}",
                               figure.label, f"{GLYPH[figure.status]} {figure.status.value}")

    def _draw(self, part: str, content: Content, status: str = "", title: str = "", subtitle: str = "") -> None:
        key = (content, status, title, subtitle)
        if self._shown.get(part) == key:
            return
        self._shown[part] = key
        widget = self.query_one(f"#{part}", Static)
        widget.update(content)
        if status:
            for name in ("-ok", "-warn", "-crit", "-unknown"):
                widget.set_class(name == status, name)
        if title:
            widget.border_title = styled(title)
            widget.border_subtitle = styled(subtitle)

    def _title(self, summary: WallSummary) -> Content:
        fill = PRODUCTION_FILL if summary.is_production else ENVIRONMENT_FILL
        hint = "esc: dashboard" if self.closable else "q: quit"
        name = "" if self.has_class("-compact") else "launchdeck wall  "
        return Content.assemble(styled(name, "bold"), styled(summary.deck, "bold"), "  ",
                                styled(f" {summary.environment.upper()} ", fill), "  ",
                                styled(f"read-only · {hint}", MUTED))

    def _clock(self, summary: WallSummary, now, stale: bool) -> Content:
        clock = styled(now.astimezone(UTC).strftime("%H:%M:%S UTC"), "bold")
        age = summary.data_age(now)
        if age is None:
            said = "no data yet"
        else:
            said = f"updated {format_duration(math.floor(age)) if age >= 1 else 'just now'}"
            said = said if age < 1 else f"{said} ago"
        return Content.assemble(clock, "  ", styled(f" {said} ", STALE_FILL if stale else OK))

    def _stale(self, summary: WallSummary, now) -> Content:
        age = summary.data_age(now)
        if age is None:
            words, line = "NO DATA", "waiting for the first reading: nothing below is known yet"
        else:
            words = f"STALE {_short_age(age)}"
            line = (f"no new reading for {format_duration(math.floor(age))} (expected within "
                    f"{format_duration(summary.stale_after)}): all below may be old")
        scale = self.scale if supported(words) else 1
        return Content.assemble(big(words, scale=scale), "\n", styled(line, "bold"))

    def _reasons(self, summary: WallSummary, mono: float) -> Content:
        reasons = summary.verdict.reasons
        if summary.verdict.status is Status.OK:
            return styled("every check is ok", OK)
        rows = max(1, self.query_one("#wall-reasons").content_size.height - 1)
        pages = max(1, math.ceil(len(reasons) / rows))
        page = int(mono // PAGE_SECONDS) % pages
        first = page * rows
        shown = reasons[first:first + rows]
        heading = f"why: {len(reasons)} reason{'s' if len(reasons) != 1 else ''}"
        if pages > 1:
            heading += f" · {first + 1}–{first + len(shown)} · page {page + 1}/{pages}, next in {PAGE_SECONDS:g} s"
        lines = [styled(heading, "bold")]
        for reason in shown:
            status = _reason_status(reason)
            lines.append(Content.assemble(styled(f"{GLYPH[status]} ", STATUS_STYLE[status]), styled(reason)))
        return Content("\n").join(lines)

    def _figure(self, figure: Figure, width: int) -> Content:
        """Big value (smaller, then plain, when it would not fit `width`), detail, trend."""
        style = STATUS_STYLE[figure.status]
        value, rest = _split_value(figure.value)
        scale = next((s for s in range(self.scale, 0, -1) if value and big_width(value, s) <= width), 0)
        if scale:
            lines = [big(value, style, scale)]
        else:
            lines = [styled(figure.value, f"bold {style}")] + [styled(" ")] * 4
            rest = ""
        small = " · ".join(part for part in (rest, figure.detail) if part)
        lines.append(styled(small or " ", MUTED if not rest else "bold"))
        lines.append(_trend(figure, width) if figure.trend else styled(" "))
        return Content("\n").join(lines)

    def _figure_lines(self, figures: tuple[Figure, ...]) -> Content:
        lines = []
        for figure in figures:
            style = STATUS_STYLE[figure.status]
            parts = [styled(f"{GLYPH[figure.status]} ", style), styled(f"{figure.label:<14}", "bold"),
                     styled(f"{figure.value:>16}", style), "  "]
            if figure.trend:
                parts += [_trend(figure, 12), " "]
            parts.append(styled(figure.detail, MUTED))
            lines.append(Content.assemble(*parts))
        return Content("\n").join(lines) if lines else styled("nothing configured to show", MUTED)


def _short_age(seconds: float) -> str:
    """An age in the block font's units: 45s, 12m, 3h, 2d."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _split_value(value: str) -> tuple[str, str]:
    """(what the block font draws, what follows in small letters): "480 ms" → ("480ms", ""),
    "12/20 pre-launch" → ("12/20", "pre-launch"); ("", "") when nothing can be drawn big."""
    if supported(value.replace(" ", "")):
        return value.replace(" ", ""), ""
    head, _, rest = value.partition(" ")
    return (head, rest) if supported(head) else ("", "")


def _reason_status(reason: str) -> Status:
    """The status word the verdict wrote after `panel/target` (Verdict.from_readings)."""
    prefix = reason.split(": ", 1)[0]
    word = prefix.rsplit(" ", 1)[-1]
    return next((s for s in Status if s.value == word), Status.UNKNOWN)


def _trend(figure: Figure, width: int) -> Content:
    """The whole trend in at most `width` bars (each the worst of its share of points, so a short
    spike is never averaged away), against the crit threshold (a full bar is at or past crit, never
    just this figure's own maximum); bars at or past crit in the crit colour."""
    trend = figure.trend
    per = max(1, math.ceil(len(trend) / max(1, width)))
    points = [max(trend[i:i + per]) for i in range(0, len(trend), per)]
    scale = figure.scale or max(points, default=0.0) or 1.0
    parts = []
    for value in points:
        level = min(1.0, max(0.0, value / scale))
        parts.append(styled(BARS[round(level * (len(BARS) - 1))], CRIT if value >= scale else MUTED))
    return Content.assemble(*parts)


def open_wall(app: Any) -> None:
    """`w` on the dashboard: the wall over it, built once and shown again (its timer pauses while hidden)."""
    if isinstance(app.screen, WallScreen):
        return
    if not app.is_screen_installed("wall"):
        app.install_screen(WallScreen(WallSource.of_engine(app.engine, lambda: _dashboard_checklists(app))), "wall")
    app.push_screen("wall")


def _dashboard_checklists(app: Any) -> tuple | None:
    """The checklist summary the dashboard last received from the engine (None before it has one)."""
    from launchdeck.tui.widgets.checklists_panel import ChecklistsPanel

    with contextlib.suppress(NoMatches):  # no [checklists], or a checklist file that could not be read
        return app.dashboard.query_one(ChecklistsPanel).summary or None
    return None


__all__ = ["WallScreen", "WallSource", "open_wall"]
