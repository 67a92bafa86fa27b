"""Typed messages: how the engine's notices reach the app, and how screens and widgets ask it for things.

Widgets and screens never call the app's methods; they post one of these and the app decides.
"""

from __future__ import annotations

from textual.message import Message

from launchdeck.checklists.state import ItemState
from launchdeck.engine.notices import Notice, ReadingNotice


class EngineNotice(Message, bubble=False):
    """A notice from the engine's thread. A newer reading of the same target replaces an unprocessed older one."""

    def __init__(self, notice: Notice) -> None:
        super().__init__()
        self.notice = notice

    def can_replace(self, message: Message) -> bool:
        return (isinstance(message, EngineNotice) and isinstance(self.notice, ReadingNotice)
                and isinstance(message.notice, ReadingNotice)
                and message.notice.reading.key == self.notice.reading.key)


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
