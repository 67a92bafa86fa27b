"""Fold checklist items and ledger records into the state of each item: open, signed or waived.

The ledger is the only source of truth for sign-offs; a `[x]` in the file is shown but is not a
signature. Records whose item no longer exists are kept as orphans, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable

from launchdeck.audit.ledger import Record
from launchdeck.checklists.parser import PHASES, Checklist, ChecklistItem

OPEN, SIGNED, WAIVED = "open", "signed", "waived"


def checklist_name(checklist: Checklist) -> str:
    """The name records carry: the file's base name, so the CLI and the TUI agree whatever the cwd."""
    return Path(checklist.source).name


@dataclass(frozen=True)
class ItemState:
    checklist: str
    item: ChecklistItem
    status: str = OPEN
    by: str | None = None
    at: str | None = None
    note: str | None = None
    evidence: dict | None = None
    signed_text: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def done(self) -> bool:
        return self.status in (SIGNED, WAIVED)

    @property
    def changed_since_signed(self) -> bool:
        return self.done and self.signed_text is not None and self.signed_text != self.item.text


def operator_label(record: Record) -> str:
    operator = record.operator
    label = f"{operator.get('login', '?')}@{operator.get('hostname', '?')}"
    return label + (f" via {operator['ssh_client']}" if operator.get("ssh_client") else "")


def apply(state: ItemState, record: Record) -> ItemState:
    """One record's effect on one item."""
    common = {"by": operator_label(record), "at": record.time}
    if record.kind == "sign":
        return ItemState(state.checklist, state.item, SIGNED, note=record.reason, evidence=record.evidence,
                         signed_text=record.item_text, notes=state.notes, **common)
    if record.kind == "waive":
        return ItemState(state.checklist, state.item, WAIVED, note=record.reason, evidence=record.evidence,
                         signed_text=record.item_text, notes=state.notes, **common)
    if record.kind == "unsign":
        return ItemState(state.checklist, state.item, OPEN, note=record.reason, notes=state.notes, **common)
    if record.kind == "note" and record.reason:
        return replace(state, notes=state.notes + (record.reason,))
    return state


@dataclass
class Board:
    """Every item of every checklist with its state, plus records that match no item."""

    checklists: list[Checklist]
    states: dict[tuple[str, str], ItemState] = field(default_factory=dict)
    orphans: list[Record] = field(default_factory=list)
    verifications: dict[tuple[str, str], Record] = field(default_factory=dict)  # (source, file) -> newest "verify"

    @classmethod
    def build(cls, checklists: list[Checklist], records: Iterable[Record] = ()) -> Board:
        board = cls(checklists)
        for checklist in checklists:
            name = checklist_name(checklist)
            for item in checklist.items:
                board.states[(name, item.id)] = ItemState(name, item)
        board.apply_all(records)
        return board

    def apply_all(self, records: Iterable[Record]) -> list[tuple[str, str]]:
        """Apply new records; return the keys whose state changed."""
        changed = []
        for record in records:
            if record.kind == "verify":  # a backup verification: not an item, kept for the Backups panel
                self.verifications[(record.item_id, record.item_text)] = record
                continue
            key = (record.checklist, record.item_id)
            state = self.states.get(key)
            if state is None:
                if record.kind not in ("action", "recovery"):
                    self.orphans.append(record)
                continue
            new = apply(state, record)
            if new != state:
                self.states[key] = new
                changed.append(key)
        return changed

    def phase(self, phase: str) -> list[ItemState]:
        return [s for s in self.states.values() if s.item.phase == phase]

    def progress(self, phase: str) -> tuple[int, int]:
        items = self.phase(phase)
        return sum(1 for s in items if s.done), len(items)

    def phases(self) -> list[str]:
        """Phases that have items, in launch order."""
        present = {s.item.phase for s in self.states.values()}
        return [p for p in PHASES if p in present]

    def find(self, item_id: str) -> list[ItemState]:
        return [s for (_, iid), s in self.states.items() if iid == item_id]
