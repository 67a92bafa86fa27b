"""Everything the checklist screen needs, headless: board, ledger, live evidence, other operators.

The engine owns one session; it feeds readings in, polls the ledger for other terminals' sign-offs,
and asks the session to sign. Nothing here touches the UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from launchdeck.core.history import ReadingHistory
from launchdeck.core.model import Reading
from launchdeck.checklists.evidence import EvidenceSyntaxError, evaluate, parse_condition
from launchdeck.audit.ledger import Ledger, LedgerError
from launchdeck.checklists.parser import Checklist
from launchdeck.checklists.signing import Entry, Request, prepare
from launchdeck.checklists.state import Board

Key = tuple[str, str]


@dataclass(frozen=True)
class LiveEvidence:
    state: str  # pass | fail | pending | unknown
    detail: str


class ChecklistSession:
    def __init__(self, checklists: list[Checklist], ledger_path: Path, history: ReadingHistory | None = None) -> None:
        self.board = Board.build(checklists)
        self.ledger = Ledger(ledger_path)
        self.history = history or ReadingHistory()
        self._conditions = {}
        for key, state in self.board.states.items():
            if state.item.verify:
                try:
                    self._conditions[key] = parse_condition(state.item.verify)
                except EvidenceSyntaxError as error:
                    self._conditions[key] = error
        holds = [c.hold for c in self._conditions.values() if not isinstance(c, Exception)]
        self.history.needs(max(holds, default=0.0) + 120)  # a margin of two minutes of readings
        self.evidence: dict[Key, LiveEvidence] = {}

    def open(self) -> str | None:
        """Set aside a torn tail left by a crash (reported, never dropped); return what to tell the user.
        A ledger that cannot be recovered is reported and still shown: signing will say why it fails."""
        if not self.ledger.path.exists():
            return None
        try:
            warning = self.ledger.recover()
        except LedgerError as error:
            return f"{error}; sign-offs cannot be added until this is fixed"
        return str(warning) if warning else None

    def read_new(self) -> list:
        """Records appended since the last read (ours or another terminal's). Blocking: the engine
        calls it on its daemon pool (a big ledger takes seconds) and applies them on its loop."""
        if not self.ledger.path.exists():
            return []
        return self.ledger.read_new()

    def observe(self, reading: Reading, now: datetime) -> list[Key]:
        """Re-judge the evidence that depends on a reading's panel (the engine has added it to the shared
        history); the keys whose verdict changed."""
        changed = []
        for key, condition in self._conditions.items():
            if isinstance(condition, Exception):
                live = LiveEvidence("unknown", str(condition))
            elif condition.panel != reading.panel and key in self.evidence:
                continue
            else:
                result = evaluate(condition, self.history, now)
                live = LiveEvidence(result.state, result.detail)
            if self.evidence.get(key) != live:
                self.evidence[key] = live
                changed.append(key)
        return changed

    def prepare(self, request: Request, now: datetime) -> Entry:
        """The signing rule against the live evidence (event loop only: it reads the history)."""
        return prepare(request, self.history, now)
