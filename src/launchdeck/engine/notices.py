"""What the engine tells its views: small frozen notices, delivered on the engine's thread.

A view's listener must be cheap and thread-safe (the TUI posts each notice as a Textual message);
views never call into probes, and everything a notice carries is immutable.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

from launchdeck.core.model import Reading, Verdict
from launchdeck.engine.tracking import Track

Key = tuple[str, str]


@dataclass(frozen=True)
class ReadingNotice:
    """A target's newest reading, how long it has held its status, and the verdict it leads to."""

    reading: Reading
    track: Track
    verdict: Verdict


@dataclass(frozen=True)
class ChecklistNotice:
    """Items whose state or live evidence changed (read the session's board for their new values).
    A new `generation` means the board was rebuilt (a repaired ledger, an edited file): re-read it all."""

    keys: tuple[Key, ...]
    # ((phase, done, total), ...), failing, no data, the ledger's integrity problem ("" when intact)
    summary: tuple[tuple[tuple[str, int, int], ...], int, int, str]
    generation: int = 0


@dataclass(frozen=True)
class VerificationNotice:
    """Dump verifications by (source, file): state and summary; `message` is set when one just ended."""

    results: Mapping[Key, str]
    summaries: Mapping[Key, str]
    message: str = ""
    failed: bool = False

    @classmethod
    def of(cls, results: dict, summaries: dict, message: str = "", failed: bool = False) -> VerificationNotice:
        return cls(MappingProxyType(dict(results)), MappingProxyType(dict(summaries)), message, failed)


@dataclass(frozen=True)
class BackfillNotice:
    """History fetched from a traffic source at start, so sparklines are full at once."""

    target: str
    points: tuple[Any, ...]


@dataclass(frozen=True)
class ProblemNotice:
    """Something the operator must be told: a worker that failed, a ledger that cannot be read."""

    title: str
    text: str
    severity: str = "error"  # error | warning


Notice = ReadingNotice | ChecklistNotice | VerificationNotice | BackfillNotice | ProblemNotice
