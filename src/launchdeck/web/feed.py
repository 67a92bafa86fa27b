"""From the one engine to every viewer: the wall summary built once, sent to all.

Two halves on two threads. `WallFeed` listens to the engine (on the engine's thread) and builds the
`WallSummary` there, at most once per MIN_GAP, because `summarize` reads the engine's history, which
only that thread may touch. It hands the JSON text to `Hub` on the server's loop, which wraps it once
as a server-sent event and wakes every open stream: ten viewers cost ten socket writes of the same
bytes, never ten summaries and never ten sets of probes. Nothing here can reach an action, a
sign-off or a refresh: the feed only calls `snapshot()`; the hub holds text.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from launchdeck.core.config import Config
from launchdeck.core.jsontext import dumps
from launchdeck.engine.notices import ChecklistNotice, Notice, ReadingNotice
from launchdeck.engine.summary import summarize

log = logging.getLogger("launchdeck.web")

MIN_GAP = 1.0  # s between two summaries: a burst of 200 readings is one event, not 200
HEARTBEAT = 5.0  # s: an event at least this often, so a silent stream means a dead server or link


class WallFeed:
    """The engine's side: builds the summary on the engine's thread and hands the text on."""

    def __init__(self, engine: Any, config: Config, deliver: Callable[[str], None], min_gap: float = MIN_GAP) -> None:
        self._engine = engine  # used for snapshot(), state.history and record_problem() only
        self._config = config
        self._deliver = deliver
        self._min_gap = min_gap
        self._checklists: tuple | None = None
        self._scheduled = False
        self._last = 0.0
        self._told = ""
        self.builds = 0  # summaries built (a bench and a test read it: one per change, not per viewer)
        engine.subscribe(self._on_notice)

    def build_now(self) -> str | None:
        """One summary at once (start-up, before the engine thread polls: the history is still ours)."""
        return self._build()

    def _on_notice(self, notice: Notice) -> None:
        """On the engine's thread: cheap; a build is scheduled on the engine's loop, coalesced."""
        if isinstance(notice, ChecklistNotice):
            self._checklists = notice.summary
        elif not isinstance(notice, ReadingNotice):
            return
        if self._scheduled:
            return
        self._scheduled = True
        delay = max(0.0, self._last + self._min_gap - time.monotonic())
        try:
            asyncio.get_running_loop().call_later(delay, self._build)
        except RuntimeError:  # told from outside a loop (a test's direct call): build at once
            self._build()

    def _build(self) -> str | None:
        self._scheduled = False
        self._last = time.monotonic()
        try:
            summary = summarize(self._engine.snapshot(), self._config, self._checklists, self._engine.state.history)
            text = dumps(_compact(summary.to_json()), indent=None)
        except Exception as error:  # noqa: BLE001 (a view's bug must not stop the engine's pollers: kept in the event log, once)
            told = f"{type(error).__name__}: {error}"
            if told != self._told:
                self._told = told
                self._engine.record_problem("browser view: summary failed", told)
            return None
        self.builds += 1
        self._deliver(text)
        return text


def _compact(document: dict[str, Any]) -> dict[str, Any]:
    """Trends to 4 significant digits: a 400-pixel sparkline needs no more, and each viewer's
    stream shrinks from ~2.6 KB to ~1 KB a second (two traffic trends of 60 points)."""
    for figure in document.get("figures", ()):
        trend = figure.get("trend")
        if trend:
            figure["trend"] = [float(f"{value:.4g}") for value in trend]
    return document


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class Hub:
    """The server's side: the newest summary as one SSE message, and a wake-up for every stream.
    Used only on the server's loop."""

    def __init__(self, heartbeat: float = HEARTBEAT, clock: Callable[[], str] = now_iso) -> None:
        self.heartbeat = heartbeat
        self._clock = clock
        self.summary_json = "null"  # until the first summary
        self.seq = 0
        self.message = b""
        self.published = 0  # summaries received from the feed
        self.closed = False
        self._event = asyncio.Event()
        self._last_bump = time.monotonic()
        self._bump()

    def publish(self, summary_json: str) -> None:
        self.summary_json = summary_json
        self.published += 1
        self._bump()

    def _bump(self) -> None:
        """A new message with the server's clock, built once for every viewer. `sent_at` lets a page
        compute the data's age without trusting its own clock to agree with ours."""
        self.seq += 1
        self._last_bump = time.monotonic()
        envelope = f'{{"sent_at":"{self._clock()}","summary":{self.summary_json}}}'
        self.message = f"id: {self.seq}\nevent: wall\ndata: {envelope}\n\n".encode()
        woken, self._event = self._event, asyncio.Event()
        woken.set()

    async def next_after(self, seq: int) -> bool:
        """Wait for a message newer than `seq`; False once the hub is closed."""
        while self.seq == seq and not self.closed:
            await self._event.wait()
        return not self.closed

    async def beat(self) -> None:
        """The heartbeat: the same summary re-sent with a fresh `sent_at` when nothing changed."""
        while not self.closed:
            await asyncio.sleep(max(0.05, self._last_bump + self.heartbeat - time.monotonic()))
            if not self.closed and time.monotonic() - self._last_bump >= self.heartbeat * 0.99:
                self._bump()

    def close(self) -> None:
        """Every stream ends now (SIGTERM): each sends its last `closing` event and returns."""
        self.closed = True
        self._event.set()


CLOSING = b"event: closing\ndata: {}\n\n"
RETRY = b"retry: 2000\n\n"

__all__ = ["CLOSING", "HEARTBEAT", "MIN_GAP", "RETRY", "Hub", "WallFeed"]
