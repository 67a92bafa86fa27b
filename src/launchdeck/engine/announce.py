"""Go/No-Go changes to the [notify] webhook: the war room's chat hears "NO-GO" without watching.

Three rules keep it worth reading:
- **Settled only.** A new verdict is posted once it has held for `[notify] hold` (30 s by default):
  a service flapping for ten seconds is not a message. The first verdict, once every target has
  been read, is the baseline and is posted too ("watching: GO"), so the channel knows someone is.
- **One dashboard speaks.** Each engineer's SSH session and the wall run their own engine; only the
  one holding `flock` on `<ledger>.notify.lock` posts. The lock dies with its holder's process, and
  the next dashboard to see a change takes it.
- **Never in the way.** The post runs as its own engine task with its own timeout; a failure becomes
  a problem in the event log, and nothing waits for it.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from launchdeck.core.filelock import try_flock
from launchdeck.core.model import Verdict

LOCK_SUFFIX = ".notify.lock"


class SpeakerLock:
    """`flock` on a file beside the ledger, held for the process's life once taken."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def held(self) -> bool:
        """True when this process speaks (taking the lock if nobody holds it)."""
        if self._fd is not None:
            return True
        try:
            self._fd = try_flock(self.path)
        except OSError:
            return False  # a directory or a symlink where the lock should be: stay quiet, never crash
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Announcer:
    """Decides when the verdict is news; `observe` returns the message to post, or None."""

    def __init__(self, deck: str, environment: str, hold: float, lock: SpeakerLock) -> None:
        self.deck = deck
        self.environment = environment
        self.hold = hold
        self.lock = lock
        self._announced: str | None = None  # the verdict word last posted (or taken as the baseline)
        self._pending: tuple[str, datetime] | None = None  # a different word, and since when

    def observe(self, verdict: Verdict, complete: bool, now: datetime) -> tuple[str, dict[str, Any]] | None:
        """After each reading. `complete`: every target has been read at least once."""
        if not complete:
            return None
        word = verdict.word
        if word == self._announced:
            self._pending = None
            return None
        if self._pending is None or self._pending[0] != word:
            self._pending = (word, now)
        if self._announced is not None and (now - self._pending[1]).total_seconds() < self.hold:
            return None
        before, self._announced, self._pending = self._announced, word, None
        if not self.lock.held():
            return None  # another dashboard speaks for this ledger
        return self._message(verdict, before, now)

    def _message(self, verdict: Verdict, before: str | None, now: datetime) -> tuple[str, dict[str, Any]]:
        reasons = list(verdict.reasons[:3])
        word = verdict.word.upper()  # the dashboard's spelling; the fields keep check --json's
        head = f"{self.deck} ({self.environment}): " + (f"watching: {word}" if before is None
                                                          else f"{before.upper()} → {word}")
        text = head + "".join(f"\n• {reason}" for reason in reasons)
        if len(verdict.reasons) > len(reasons):
            text += f"\n(+{len(verdict.reasons) - len(reasons)} more)"
        fields = {"event": "verdict", "deck": self.deck, "environment": self.environment, "verdict": verdict.word,
                  "previous": before, "status": verdict.status.value, "reasons": list(verdict.reasons),
                  "time": now.isoformat()}
        return text, fields


__all__ = ["Announcer", "SpeakerLock", "LOCK_SUFFIX"]
