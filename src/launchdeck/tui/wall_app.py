"""`launchdeck wall`: the wall alone, as the whole app, on an engine of its own.

A LaunchdeckApp (the same engine start, notices, plain notifications, worker errors and clean exit)
that opens on the wall and never has actions: built with actions off whatever the config says, so
no deploy, rollback or restore key or palette entry exists in it.
"""

from __future__ import annotations

from typing import cast

from textual.binding import Binding

from launchdeck.core.config import Config
from launchdeck.core.model import Clock
from launchdeck.engine.notices import ChecklistNotice, ProblemNotice
from launchdeck.probes.base import Probe
from launchdeck.tui.app import LaunchdeckApp, make_app
from launchdeck.tui.screens.wall import WallScreen, WallSource


class WallApp(LaunchdeckApp, inherit_bindings=False):
    BINDINGS = [Binding("q", "quit", "Quit")]

    def __init__(self, config: Config, engine, actions_enabled: bool = False, checklist_problem: str = "") -> None:
        """`actions_enabled` is ignored: the wall never has actions, whatever the config or the flags."""
        super().__init__(config, engine, actions_enabled=False, checklist_problem=checklist_problem)
        self.checklist_summary: tuple | None = None  # the engine's newest ChecklistNotice.summary
        self.title = f"launchdeck wall · {config.deck.name}"

    def first_screen(self) -> WallScreen:
        """The dashboard's start-up (engine, recorder, notices) with the wall as the only screen."""
        return WallScreen(WallSource.of_engine(self.engine, lambda: self.checklist_summary), closable=False)

    def _show(self, notice) -> None:
        """Readings are read from the engine's snapshot each tick; only these need keeping or telling."""
        if isinstance(notice, ChecklistNotice):
            self.checklist_summary = notice.summary
        elif isinstance(notice, ProblemNotice):
            super()._show(notice)


def make_wall_app(config: Config, probes: list[Probe] | None = None, clock: Clock | None = None) -> WallApp:
    """The engine and checklists built by make_app (the one factory), shown as a wall with no actions."""
    return cast(WallApp, make_app(config, probes=probes, clock=clock, allow_actions=False, app_class=WallApp))


__all__ = ["WallApp", "make_wall_app"]
