"""Typed messages: how the engine's notices reach the app (batched, NoticeInbox), and how screens and widgets ask it for things.

Widgets and screens never call the app's methods; they post one of these and the app decides.
"""

from __future__ import annotations

import threading
from typing import Callable

from textual.message import Message

from launchdeck.checklists.state import ItemState
from launchdeck.engine.notices import Notice, ReadingNotice


class EngineNotices(Message, bubble=False):
    """Notices the engine's thread gathered since the app last took them. One such message waits in
    the app's queue at a time, so a key press never queues behind hundreds of readings (200 targets
    polled together once put ~300 ms of messages ahead of it)."""


class NoticeInbox:
    """Filled on the engine's thread, emptied on the app's; posts one EngineNotices when it turns
    non-empty. The lock guards the list and the posted flag, nothing else."""

    def __init__(self, post: Callable[[Message], object]) -> None:
        self._post = post
        self._lock = threading.Lock()
        self._notices: list[Notice] = []

    def put(self, notice: Notice) -> None:
        with self._lock:
            self._notices.append(notice)
            first = len(self._notices) == 1
        if first:
            self._post(EngineNotices())

    def take(self) -> list[Notice]:
        """Everything gathered, oldest first; only the newest reading of each target survives."""
        with self._lock:
            notices, self._notices = self._notices, []
        newest = {n.reading.key: i for i, n in enumerate(notices) if isinstance(n, ReadingNotice)}
        return [n for i, n in enumerate(notices) if not isinstance(n, ReadingNotice) or newest[n.reading.key] == i]


class SignoffRequested(Message):
    """Sign, unsign or waive this item (the app asks for the note or reason first)."""

    def __init__(self, state: ItemState, kind: str) -> None:
        super().__init__()
        self.state = state
        self.kind = kind


class VerifyRequested(Message):
    """Verify one dump, or (name None) the newest dump of every directory source."""

    def __init__(self, source: str | None = None, name: str | None = None) -> None:
        super().__init__()
        self.source = source
        self.name = name


class BackupsListRequested(Message):
    """Open the recent-backups screen."""


class DetailRequested(Message):
    """Open the detail of one target (enter or a click on its row, or on a reason of the verdict)."""

    def __init__(self, panel: str, target: str) -> None:
        super().__init__()
        self.panel = panel
        self.target = target


class ReasonsRequested(Message):
    """List every reason of the Go / No-Go verdict (enter or a click on the verdict)."""


class RoomChanged(Message):
    """A panel needs a different number of lines (rows came or went, it was expanded or folded): the
    dashboard shares the screen's height again."""
