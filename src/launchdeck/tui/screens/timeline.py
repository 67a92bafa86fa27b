"""`t`: the launch's timeline, every event of the engine's log in time order, filtered, following new ones.

State changes (breaches, recoveries), sign-offs, waivers, verifications, container events, actions
and problems: one line each (time, severity, panel/target, kind, text). The list is one Line-API
widget that draws only the lines on screen, so 10,000 events cost what 20 do; filtering is a pass
over plain tuples. People's text (targets, notes, reasons) is styled as data, never markup.
The screen reads the log by seq twice a second while it is shown, and only when the log moved.
"""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.geometry import Size
from textual.screen import Screen
from textual.strip import Strip
from textual.timer import Timer
from textual.visual import Visual
from textual.widgets import Footer, Input, Static

from launchdeck.core.model import Status
from launchdeck.engine.events import EVENTS_KEPT, Event
from launchdeck.tui.palette import MUTED, STATUS_STYLE, styled
from launchdeck.tui.widgets.cursor_list import CursorList

POLL_SECONDS = 0.5
MARK = {Status.OK: "✓", Status.WARN: "▲", Status.CRIT: "✗", Status.UNKNOWN: "?"}
# what `s` cycles through: every event, then warn and worse, then crit alone
SEVERITIES = (("all", 0), ("warn+", Status.WARN.severity), ("crit", Status.CRIT.severity))
PANELS = ("services", "traffic", "containers", "backups", "checklists", "actions", "engine")
_CACHE_LIMIT = 2000


def _when(event: Event) -> tuple:
    """Time order; the log's order among events of the same moment."""
    return event.time, event.seq


def event_line(event: Event, day: bool = False) -> Content:
    """One event as a line: user text (target, text) is data, styled, never parsed."""
    when = event.time.strftime("%m-%d %H:%M:%S" if day else "%H:%M:%S")
    style = STATUS_STYLE.get(event.severity, "")
    return Content.assemble(
        styled(when, MUTED), " ",
        styled(f"{MARK.get(event.severity, '?')} {event.severity.value:<7}", style), " ",
        styled(f"{event.panel}/{event.target}", "bold"), " ",
        styled(event.kind, MUTED), " ",
        styled(event.text))


class EventList(CursorList, can_focus=True):
    """The events that pass the filters, one line each; `cursor` indexes them."""

    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "edge(0)", "First", show=False),
        Binding("end,G", "edge(1)", "Newest", show=False),
    ]
    COMPONENT_CLASSES = {"event-list--cursor"}
    DEFAULT_CSS = """
    EventList { height: 1fr; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; overflow-x: hidden; }
    EventList > .event-list--cursor { background: $accent 30%; }
    EventList:focus > .event-list--cursor { background: $accent 45%; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.events: list[Event] = []  # every event, oldest first
        self.shown: list[Event] = []  # those passing the filters
        self.cursor = 0
        self.day = False  # the log spans more than one day: lines show the date too
        self.panel = ""  # "" all
        self.needle = ""  # in the target (or panel/target), case-insensitive
        self.least = 0  # lowest severity shown
        self._lines: dict[tuple[int, int, bool], Strip] = {}
        self._cap = EVENTS_KEPT

    # -- the events
    def _passes(self, event: Event) -> bool:
        return ((not self.panel or event.panel == self.panel) and event.severity.severity >= self.least
                and (not self.needle or self.needle in f"{event.panel}/{event.target}".casefold()))

    def set_events(self, events: list[Event]) -> None:
        self.events = sorted(events, key=_when)
        self._cap = max(EVENTS_KEPT, len(self.events))  # as many as the log keeps: a screen left open for days
        self._lines.clear()
        self.day = bool(self.events) and self.events[0].time.date() != self.events[-1].time.date()
        self._apply(keep_end=True)

    def add_events(self, events: tuple[Event, ...] | list[Event]) -> None:
        """New events from the log: appended; the cursor follows them when it was on the newest line."""
        at_end = self.cursor >= len(self.shown) - 1
        if len(self.events) + len(events) > self._cap * 1.1:  # the oldest go, as from the engine's log
            self.events = sorted([*self.events, *events], key=_when)[-self._cap:]
            self._lines.clear()
            self._apply(keep_end=at_end)
            return
        if self.events and events and min(events, key=_when).time < self.events[-1].time:
            self.events = sorted([*self.events, *events], key=_when)  # a container event reported late
            self._apply(keep_end=at_end)
            return
        self.events.extend(events)
        fresh = [e for e in events if self._passes(e)]
        if self.events and self.events[0].time.date() != self.events[-1].time.date() and not self.day:
            self.day = True
            self._lines.clear()
        if fresh:
            self.shown.extend(fresh)
            self.virtual_size = Size(0, len(self.shown))
            if at_end:
                self.move_to(len(self.shown) - 1)
            self.refresh()

    def filter(self, panel: str | None = None, needle: str | None = None, least: int | None = None) -> None:
        if panel is not None:
            self.panel = panel
        if needle is not None:
            self.needle = needle.casefold()
        if least is not None:
            self.least = least
        self._apply(keep_end=True)

    def _apply(self, keep_end: bool) -> None:
        """The filters applied again; the cursor on the newest line, or on the event it was on."""
        current = self.selected()
        self.shown = [e for e in self.events if self._passes(e)]
        self.virtual_size = Size(0, len(self.shown))
        index = len(self.shown) - 1
        if not keep_end and current is not None:
            index = next((i for i, e in enumerate(self.shown) if e.seq == current.seq), index)
        self.move_to(index)
        self.refresh()

    def selected(self) -> Event | None:
        return self.shown[self.cursor] if 0 <= self.cursor < len(self.shown) else None

    def plain(self, index: int) -> str:
        """The line at `index` as text (what a test or a screen reader reads)."""
        return event_line(self.shown[index], self.day).plain if 0 <= index < len(self.shown) else ""

    # -- the cursor (CursorList moves it)
    def line_count(self) -> int:
        return len(self.shown)

    def cursor_moved(self) -> None:
        screen = self.screen if self.is_mounted else None
        if isinstance(screen, TimelineScreen):
            screen.show_detail()

    # -- drawing
    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if not 0 <= index < len(self.shown):
            return Strip.blank(width, self.rich_style)
        event, cursor = self.shown[index], index == self.cursor
        key = (event.seq, width, cursor)
        cached = self._lines.get(key)
        if cached is not None:
            return cached
        style = self.get_visual_style("event-list--cursor") if cursor else self.visual_style
        strips = Visual.to_strips(self, event_line(event, self.day), width, 1, style, pad=True)
        strip = strips[0] if strips else Strip([Segment(" " * width, style.rich_style)], width)
        if len(self._lines) >= _CACHE_LIMIT:
            self._lines.clear()
        self._lines[key] = strip
        return strip


class TimelineScreen(Screen):
    """Reads `engine.events` (an EventLog, or a replay's); `engine.status_line()` when it has one."""

    BINDINGS = [
        Binding("slash", "find", "Target", key_display="/"),
        Binding("s", "severity", "Severity"),
        Binding("P", "panel", "Panel", key_display="P"),
        Binding("x", "clear", "Clear filters"),
        Binding("escape", "back", "Back"),
    ]
    DEFAULT_CSS = """
    TimelineScreen #timeline-title { height: 1; padding: 0 1; background: $panel; text-wrap: nowrap;
                                     text-overflow: ellipsis; }
    TimelineScreen #timeline-find { display: none; height: 3; }
    TimelineScreen #timeline-find.-shown { display: block; }
    TimelineScreen #timeline-detail { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, engine: Any) -> None:
        super().__init__(id="timeline")
        self.engine = engine
        self._log = engine.events
        self._seq = 0
        self._severity = 0
        self._panel = 0  # 0: all, else PANELS[n - 1]
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="timeline-title")
        yield Input(placeholder="target contains … (enter keeps it, escape clears)", id="timeline-find")
        yield EventList(id="timeline-events")
        yield Static("", id="timeline-detail")
        yield Footer()

    @property
    def events(self) -> EventList:
        return self.query_one(EventList)

    def on_mount(self) -> None:
        self.reload()
        self.events.focus()
        self._timer = self.set_interval(POLL_SECONDS, self.follow)

    def on_screen_suspend(self) -> None:
        if self._timer is not None:  # no timer runs for a hidden screen
            self._timer.pause()

    def on_screen_resume(self) -> None:
        if self._timer is not None:
            self.follow()
            self._timer.resume()

    # -- the log
    def reload(self) -> None:
        self._log = self.engine.events
        events = self._log.since(0)
        self._seq = events[-1].seq if events else 0
        self.events.set_events(list(events))
        self._show_title()

    def follow(self) -> None:
        """New events since the last look (a replay's cursor moved back: its log is new, read whole)."""
        if self.engine.events is not self._log or self._log.last_seq < self._seq:
            self.reload()
            return
        if self._log.last_seq == self._seq:
            self._show_title()
            return
        fresh = self._log.since(self._seq)
        if fresh:
            self._seq = fresh[-1].seq
            self.events.add_events(fresh)
        self._show_title()

    def _show_title(self) -> None:
        listing = self.events
        filters = [f"panel {PANELS[self._panel - 1]}" if self._panel else "",
                   f"severity {SEVERITIES[self._severity][0]}" if self._severity else "",
                   f"target ~ {listing.needle}" if listing.needle else ""]
        words = ", ".join(f for f in filters if f)
        status = getattr(self.engine, "status_line", None)
        parts: list[Content | str] = []
        if status is not None:
            parts += [styled(status(), "bold reverse"), " "]
        parts += [styled("Timeline", "bold"),
                  styled(f"  {len(listing.shown)} of {len(listing.events)} events", MUTED)]
        if words:
            parts.append(styled(f"  ({words})", ""))
        self.query_one("#timeline-title", Static).update(Content.assemble(*parts))

    def show_detail(self) -> None:
        event = self.events.selected()
        detail = self.query_one("#timeline-detail", Static)
        if event is None:
            detail.update(styled("no event matches" if self.events.events else "no events yet", MUTED))
            return
        detail.update(Content.assemble(styled(event.time.isoformat(timespec="seconds"), MUTED), " ",
                                       styled(f"{event.panel}/{event.target}", "bold"), " ",
                                       styled(event.kind, MUTED), " ", styled(event.text)))

    # -- keys
    def action_severity(self) -> None:
        self._severity = (self._severity + 1) % len(SEVERITIES)
        self.events.filter(least=SEVERITIES[self._severity][1])
        self._show_title()

    def action_panel(self) -> None:
        self._panel = (self._panel + 1) % (len(PANELS) + 1)
        self.events.filter(panel=PANELS[self._panel - 1] if self._panel else "")
        self._show_title()

    def action_find(self) -> None:
        find = self.query_one("#timeline-find", Input)
        find.add_class("-shown")
        find.focus()

    def action_clear(self) -> None:
        self._severity = self._panel = 0
        find = self.query_one("#timeline-find", Input)
        find.value = ""
        find.remove_class("-shown")
        self.events.filter(panel="", needle="", least=0)
        self.events.focus()
        self._show_title()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.events.filter(needle=event.value)
        self._show_title()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.events.focus()

    def action_back(self) -> None:
        find = self.query_one("#timeline-find", Input)
        if find.has_focus:  # escape in the box clears it
            find.value = ""
            find.remove_class("-shown")
            self.events.focus()
            return
        self.app.pop_screen()


__all__ = ["TimelineScreen", "EventList", "event_line"]
