"""`launchdeck wall`: the wall alone, as the whole app, on an engine of its own.

A LaunchdeckApp (the same engine start, notices, plain notifications, worker errors and clean exit)
that shows only the wall and never has actions: built with actions off whatever the config says,
so no deploy, rollback or restore key or palette entry exists in it.
"""

from __future__ import annotations

import gc

from textual.binding import Binding
from textual.events import Mount

from launchdeck.core.config import Config
from launchdeck.core.model import Clock
from launchdeck.engine.notices import ChecklistNotice, ProblemNotice
from launchdeck.probes.base import Probe
from launchdeck.tui.app import LaunchdeckApp, make_app
from launchdeck.tui.screens.wall import WallScreen, WallSource


class WallApp(LaunchdeckApp, inherit_bindings=False):
    BINDINGS = [Binding("q", "quit", "Quit")]

    def __init__(self, config: Config, engine, checklist_problem: str = "") -> None:
        super().__init__(config, engine, actions_enabled=False, checklist_problem=checklist_problem)
        self.checklist_summary: tuple | None = None  # the engine's newest ChecklistNotice.summary
        self.title = f"launchdeck wall · {config.deck.name}"

    def on_mount(self, event: Mount) -> None:
        """The dashboard's start-up, with the wall as the only screen."""
        event.prevent_default()  # LaunchdeckApp.on_mount would push the dashboard
        self.push_screen(WallScreen(WallSource.of_engine(self.engine, lambda: self.checklist_summary),
                                    closable=False))
        self.engine.subscribe(self._inbox.put)
        from launchdeck.engine.recorder import start_recorder  # the flight recorder, as on the dashboard

        self.recorder = start_recorder(self.config, self.engine, self._inbox.put)  # closed by on_unmount
        self.engine.start(wait=False, hold=True)
        self.call_after_refresh(self.engine.release)
        self.call_after_refresh(gc.freeze)

    def _show(self, notice) -> None:
        """Readings are read from the engine's snapshot each tick; only these need keeping or telling."""
        if isinstance(notice, ChecklistNotice):
            self.checklist_summary = notice.summary
        elif isinstance(notice, ProblemNotice):
            super()._show(notice)


def make_wall_app(config: Config, probes: list[Probe] | None = None, clock: Clock | None = None) -> WallApp:
    """The engine and checklists built by make_app (the one factory), shown as a wall with no actions."""
    base = make_app(config, probes=probes, clock=clock, allow_actions=False)
    return WallApp(config, base.engine, checklist_problem=base.dashboard.checklist_problem)


__all__ = ["WallApp", "make_wall_app"]
