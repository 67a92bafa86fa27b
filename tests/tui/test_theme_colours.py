"""Status colours come from the theme: readable on a light theme and on launchdeck's high-contrast
theme, and a theme switch at run time repaints them. Colours are read back from what the screen
renders (the compositor's cell under the badge), not from the palette's strings."""

from __future__ import annotations

import pytest
from rich.color import Color as RichColor
from textual.app import App, ComposeResult
from textual.color import Color

from launchdeck.core.model import Status, Verdict
from launchdeck.tui.palette import (CRIT, HIGH_CONTRAST, INFO, KEY, OK, STATUS_FILL, UNKNOWN, WARN, register_themes,
                                    styled)
from launchdeck.tui.widgets.badge import badge
from launchdeck.tui.widgets.rows import Cell, CellRow
from launchdeck.tui.widgets.verdict import VerdictBar
from tests.tui.helpers import app_with, mixed_probes, wait_until

THEMES = ("textual-dark", "textual-light", HIGH_CONTRAST.name)
READABLE = 3.0  # WCAG's floor for large or bold text; a badge is a short, often bold, word


def luminance(color: Color) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.r) + 0.7152 * channel(color.g) + 0.0722 * channel(color.b)


def contrast(a: Color, b: Color) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def truecolor(color: RichColor | None) -> Color:
    """An ANSI colour depends on the terminal's palette: its contrast cannot be known, so it fails here."""
    assert color is not None and color.triplet is not None, f"not a theme colour: {color!r}"
    return Color(*color.triplet)


def rendered(app: App, widget) -> tuple[Color, Color]:
    """Foreground and background of the first cell of `widget` (or of a panel's row), as the screen
    composes it."""
    region = widget.owner.row_region(widget) if isinstance(widget, CellRow) else widget.content_region
    style = app.screen.get_style_at(region.x, region.y)
    return truecolor(style.color), truecolor(style.bgcolor)


def warn_badge(app) -> CellRow:
    """The payments row: its badge is its first column, where `rendered` looks."""
    return app.dashboard.query_one("#services").rows["payments"]


@pytest.mark.parametrize("theme", ["textual-light", HIGH_CONTRAST.name])
async def test_the_warn_badge_is_readable_on_a_light_and_a_high_contrast_theme(theme):
    app = app_with(mixed_probes())
    register_themes(app)  # what LaunchdeckApp does at start-up; registering twice is harmless
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.latest) == 5)
        app.theme = theme
        await pilot.pause()
        cell = warn_badge(app)
        assert cell.cells["badge"].text.plain.startswith("▲ warn")
        fg, bg = rendered(app, cell)
        assert contrast(fg, bg) >= READABLE, f"{theme}: {fg.hex} on {bg.hex} is {contrast(fg, bg):.2f}:1"


async def test_switching_theme_at_run_time_repaints_the_badge_in_the_new_colours():
    app = app_with(mixed_probes())
    register_themes(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.latest) == 5)
        seen = {}
        for theme in THEMES:
            app.theme = theme
            await pilot.pause()
            fg, bg = rendered(app, warn_badge(app))
            seen[theme] = fg
            assert fg == Color.parse(app.theme_variables["text-warning"]), theme
        assert len(set(seen.values())) == len(THEMES), f"the badge kept a colour across themes: {seen}"
        app.theme = "textual-dark"  # and back: nothing is left over from the other themes
        await pilot.pause()
        assert rendered(app, warn_badge(app))[0] == seen["textual-dark"]


class Marks(App):
    """Every mark and every verdict fill, standalone: no engine, no probes."""

    MARKS = {"ok": OK, "warn": WARN, "crit": CRIT, "unknown": UNKNOWN, "info": INFO, "key": KEY}

    def compose(self) -> ComposeResult:
        for name, style in self.MARKS.items():
            cell = Cell(id=f"mark-{name}")
            cell.text = styled(f"{name} mark", style)
            yield cell
        for status in Status:
            bar = VerdictBar(id=f"verdict-{status.value}")
            bar.verdict = Verdict(status, ("a reason",)) if status is not Status.OK else Verdict(status, ())
            yield bar


@pytest.mark.parametrize("theme", THEMES)
async def test_every_mark_and_verdict_is_readable_on_each_theme(theme):
    app = Marks()
    register_themes(app)
    async with app.run_test(size=(40, 12)) as pilot:
        app.theme = theme
        await pilot.pause()
        for name in Marks.MARKS:
            fg, bg = rendered(app, app.query_one(f"#mark-{name}"))
            assert contrast(fg, bg) >= READABLE, f"{theme} {name}: {fg.hex} on {bg.hex}"
        for status in Status:
            bar = app.query_one(f"#verdict-{status.value}")
            region = bar.content_region
            style = app.screen.get_style_at(region.x + 1, region.y)  # inside the verdict word
            fg, bg = truecolor(style.color), truecolor(style.bgcolor)
            assert bg == Color.parse(app.theme_variables[STATUS_FILL[status].rsplit("$", 1)[1]]), status
            assert contrast(fg, bg) >= READABLE, f"{theme} verdict {status.value}: {fg.hex} on {bg.hex}"


def test_high_contrast_marks_are_at_least_7_to_1_on_its_background():
    variables = HIGH_CONTRAST.to_color_system().generate()
    background = Color.parse(variables["background"])
    for name in ("text-success", "text-warning", "text-error", "text-secondary", "text-primary", "text-muted"):
        assert contrast(Color.parse(variables[name]), background) >= 7.0, name


async def test_a_cell_repaints_when_only_its_colour_changes():
    """Content's own == compares the words alone; a cell must compare the styles too."""

    class One(App):
        def compose(self) -> ComposeResult:
            yield Cell()

    app = One()
    async with app.run_test() as pilot:
        cell = app.query_one(Cell)
        cell.text = badge(Status.WARN)
        await pilot.pause()
        before = rendered(app, cell)[0]
        changes = []
        cell.watch_text = lambda old, new: changes.append(new)  # a reactive's watcher: runs on a real change
        cell.text = badge(Status.WARN)
        assert changes == [], "the same words in the same colour do not repaint"
        cell.text = styled(badge(Status.WARN).plain, CRIT)
        await pilot.pause()
        assert len(changes) == 1 and rendered(app, cell)[0] != before


async def test_the_backups_list_result_column_fits_its_words_and_follows_the_theme():
    """DataTable renders cells through Rich: TableText must be measurable and recoloured on a switch."""
    from textual.widgets import DataTable

    from launchdeck.tui.screens.backups import RESULT_TEXT

    class Table(App):
        def compose(self) -> ComposeResult:
            table = DataTable()
            table.add_column("source")
            table.add_column("verified", key="verified")
            table.add_row("main_db", RESULT_TEXT["error"], key="main_db")
            yield table

    app = Table()
    register_themes(app)
    async with app.run_test(size=(40, 5)) as pilot:
        table = app.query_one(DataTable)
        assert table.columns["verified"].content_width == len("? unverified")
        colours = []
        for theme in ("textual-dark", "textual-light"):
            app.theme = theme
            await pilot.pause()
            segments = [s for s in table.render_line(1) if "unverified" in s.text]
            colours.append(truecolor(segments[0].style.color))
            assert colours[-1] == Color.parse(app.theme_variables["text-secondary"]), theme
        assert colours[0] != colours[1]


def test_user_text_is_never_markup():
    """DESIGN rule 9: a reason or a name with brackets shows as typed."""
    from launchdeck.tui.widgets.header import DeckHeader

    reason = "[bold red]boom[/] [link=http://x]x[/link]"
    bar = VerdictBar()
    bar.verdict = Verdict(Status.CRIT, (reason,))
    assert reason in bar.render().plain
    header = DeckHeader.compose_line("[b]shop[/b]", "prod[uction]", production=False, actions_enabled=False)
    assert "[b]shop[/b]" in header.plain and "PROD[UCTION]" in header.plain


async def test_no_color_sends_no_colour_codes_and_keeps_the_status_words(monkeypatch):
    """NO_COLOR (no-color.org): Textual's own filter greys colours out but still sends 24-bit colours;
    every cell of the dashboard, after the app's filters, carries none, and the words are there."""
    from textual.filter import Monochrome, NoColor

    monkeypatch.setenv("NO_COLOR", "1")
    app = app_with(mixed_probes())
    assert any(isinstance(f, NoColor) for f in app._filters) and not any(isinstance(f, Monochrome) for f in app._filters)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.latest) == 5)
        await pilot.pause()
        strips = app.screen._compositor.render_strips()
        coloured = []
        for y, strip in enumerate(strips):
            segments = list(strip)
            for filter_ in app._filters:
                segments = filter_.apply(segments, Color(0, 0, 0))
            coloured += [(y, s.text) for s in segments if s.style is not None and (
                (s.style.color is not None and not s.style.color.is_default)
                or (s.style.bgcolor is not None and not s.style.bgcolor.is_default))]
        assert not coloured, f"colour left on {coloured[:5]}"
        text = "\n".join(strip.text for strip in strips)
        assert "✖ crit" in text and "▲ warn" in text and "● ok" in text and "NO-GO" in text


def test_the_high_contrast_theme_is_registered_and_selectable():
    app = app_with(mixed_probes())
    assert HIGH_CONTRAST.name in app.available_themes
    app.theme = HIGH_CONTRAST.name
    assert app.current_theme.background == HIGH_CONTRAST.background
