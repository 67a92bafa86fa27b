"""What a cut-off line leaves out: a target's detail (enter on any row) and every reason of the
Go / No-Go verdict (enter on the verdict).

Both read the engine only (its snapshot, history and event log); neither asks it for anything.
A target's detail: its status and full reason, since when and how often it flapped, its values in
human units, its last readings with their times, and its events from the engine's log.
"""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from launchdeck.core.model import ACT_FIRST, Reading, Status
from launchdeck.core.units import format_metric, format_minutes
from launchdeck.engine.engine import Engine
from launchdeck.tui.messages import DetailRequested
from launchdeck.tui.palette import KEY, MUTED, STATUS_STYLE, WARN, styled
from launchdeck.tui.widgets.badge import badge

READINGS_SHOWN = 20
EVENTS_SHOWN = 30
SCREEN_CSS = """
{name} {{ align: center middle; background: $background; }}
{name} > VerticalScroll, {name} > OptionList, {name} > OptionList:focus {{ width: 96%; max-width: 140;
    height: auto; max-height: 94%; border: round $accent; background: $surface; padding: 0 1; }}
"""


def _time(at: datetime) -> str:
    return at.strftime("%H:%M:%S")


def _values(reading: Reading) -> list[Content]:
    """Every plain value of the reading in its own unit (`age_seconds  40h`, `error_ratio  1.2%`), a
    line each; lists and tables (a backups listing, SLO burn per window) are on their own screens."""
    plain = [(key, value) for key, value in reading.values.items()
             if value is not None and isinstance(value, (int, float, str)) and not isinstance(value, bool)]
    width = max((len(key) for key, _ in plain), default=0) + 2
    return [Content.assemble(styled(key.ljust(width), MUTED), styled(format_metric(key, value)))
            for key, value in plain] or [styled("no values", MUTED)]


def _history(engine: Engine, panel: str, target: str) -> list[tuple[Reading, int]]:
    """The newest readings first, a run of equal ones (same status, same reason) as one with its
    count; read again if the engine appended while we copied (it runs on its own thread)."""
    readings: list[Reading] = []
    for _ in range(3):
        try:
            readings = list(engine.state.history.newest_first(panel, target))
            break
        except RuntimeError:  # deque mutated during iteration: copy again
            continue
    runs: list[tuple[Reading, int]] = []
    for reading in readings:
        if runs and (runs[-1][0].status, runs[-1][0].reason) == (reading.status, reading.reason):
            runs[-1] = (reading, runs[-1][1] + 1)  # the run's oldest: since when it has said this
        elif len(runs) == READINGS_SHOWN:
            break
        else:
            runs.append((reading, 1))
    return runs


class DetailScreen(ModalScreen[None]):
    """One target: status, full reason, values, last readings, events. Escape closes."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close"), Binding("r", "reread", "Read again")]
    DEFAULT_CSS = SCREEN_CSS.format(name="DetailScreen")

    def __init__(self, engine: Engine, panel: str, target: str) -> None:
        super().__init__()
        self.engine = engine
        self.panel = panel
        self.target = target

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = f"{self.panel} · {self.target}"
            box.border_subtitle = "escape closes"
            yield Static(self.text(), id="detail")

    def text(self) -> Content:
        key = (self.panel, self.target)
        snapshot = self.engine.snapshot()
        reading, track = snapshot.readings.get(key), snapshot.tracks.get(key)
        lines: list[Content] = []
        if reading is None:
            lines.append(styled("no reading yet", MUTED))
        else:
            lines.append(Content.assemble(badge(reading.status), styled(reading.reason or "—")))
            if track is not None:
                held = (reading.observed_at - track.since).total_seconds()
                lines.append(Content.assemble(
                    styled(f"{reading.status.value} for {format_minutes(held)}, since {_time(track.since)}", MUTED),
                    styled(f" · {track.flaps} changes in the last 15 minutes", WARN) if track.flaps else ""))
            lines += ["", *_values(reading)]
        lines += ["", styled("Last readings", f"{KEY} underline")]
        readings = _history(self.engine, self.panel, self.target)
        lines += [Content.assemble(styled(_time(r.observed_at) + "  ", MUTED), badge(r.status), styled(r.reason),
                                   styled(f"  ({count} readings alike since)", MUTED) if count > 1 else "")
                  for r, count in readings] or [styled("none kept", MUTED)]
        lines += ["", styled("Events", f"{KEY} underline")]
        events = [e for e in self.engine.events.since(0) if e.panel == self.panel and e.target == self.target]
        lines += [Content.assemble(styled(_time(e.time) + "  ", MUTED), styled(e.kind.ljust(9), STATUS_STYLE[e.severity]),
                                   styled(e.text)) for e in reversed(events[-EVENTS_SHOWN:])] or \
            [styled("none: no change of state since launchdeck started", MUTED)]
        return Content("\n").join(lines)

    def show_reading(self, reading: Reading) -> None:
        """A newer reading of this target: read everything again (one target: cheap)."""
        if reading.key == (self.panel, self.target):
            self.action_reread()

    def action_reread(self) -> None:
        for shown in self.query("#detail").results(Static):  # none yet while the screen is composed
            shown.update(self.text())

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)


class ReasonsScreen(ModalScreen[None]):
    """Every reason of the verdict, worst first; enter (or a click) opens that target's detail."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close")]
    DEFAULT_CSS = SCREEN_CSS.format(name="ReasonsScreen")

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine

    def compose(self) -> ComposeResult:
        snapshot = self.engine.snapshot()
        bad = sorted((r for r in snapshot.readings.values() if r.status is not Status.OK),
                     key=lambda r: (-r.status.severity, ACT_FIRST.get(r.panel, len(ACT_FIRST)), r.panel, r.target))
        options = [Option(Content.assemble(badge(r.status), styled(f"{r.panel}/{r.target}", "bold"), "  ",
                                           styled(r.reason)), id=f"{r.panel}\x00{r.target}") for r in bad]
        box = OptionList(*(options or [Option(styled("every check is ok", MUTED), disabled=True)]))
        verdict = snapshot.verdict
        box.border_title = f"{verdict.word.upper()}: {len(bad)} reason{'' if len(bad) == 1 else 's'}"
        box.border_subtitle = "enter: detail · escape closes"
        yield box

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        panel, _, target = str(event.option.id).partition("\x00")
        self.post_message(DetailRequested(panel, target))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
