"""Fold checklist items and ledger records into the state of each item: open, signed or waived.

The ledger is the only source of truth for sign-offs; a `[x]` in the file is shown but is not a
signature. A record is placed on the item it names (file key, item id); when the file was edited
since, `placing.py` finds where it went, and says so: a record is never dropped and never moved
silently. Records it cannot place are kept as orphans, or as claims on each item they could be for.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable

from launchdeck.audit.ledger import Record
from launchdeck.checklists.parser import PHASES, Checklist, ChecklistItem
from launchdeck.checklists.placing import Placer

OPEN, SIGNED, WAIVED = "open", "signed", "waived"
# records the ledger keeps for others (actions/record.py, probes/backups/integrity.py): not about items
NOT_CHECKLISTS = frozenset({"actions", "backups"})
Key = tuple[str, str]


def checklist_name(checklist: Checklist) -> str:
    """The name records carry: the file's path relative to the config file (its base name without one)."""
    return checklist.key


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
    # the id the sign-off named when that is not the item's id now (a heading renamed, an item
    # reworded or no longer a twin): the record was placed here by a match, shown as a change
    signed_id: str | None = None
    # records that name this item ambiguously (it has an identical twin): shown, not applied
    claims: tuple[str, ...] = ()

    @property
    def done(self) -> bool:
        return self.status in (SIGNED, WAIVED)

    @property
    def changed_since_signed(self) -> bool:
        """Signed as another text or under another id: someone should look again and re-sign."""
        if not self.done:
            return False
        return (self.signed_text is not None and self.signed_text != self.item.text) or self.signed_id is not None

    def changes(self) -> str:
        """What changed since the sign-off, in words: the old text, and the old place if it moved."""
        parts = []
        if self.signed_text is not None and self.signed_text != self.item.text:
            parts.append(f"signed as “{self.signed_text}”")
        if self.signed_id is not None:
            parts.append(f"signed under id {self.signed_id}")
        return "; ".join(parts)


def operator_label(record: Record) -> str:
    operator = record.operator
    label = f"{operator.get('login', '?')}@{operator.get('hostname', '?')}"
    return label + (f" via {operator['ssh_client']}" if operator.get("ssh_client") else "")


def apply(state: ItemState, record: Record, signed_id: str | None = None) -> ItemState:
    """One record's effect on one item; `signed_id` when the record names the item by an older id."""
    common = {"by": operator_label(record), "at": record.time, "claims": state.claims, "notes": state.notes}
    if record.kind in ("sign", "waive"):
        return ItemState(state.checklist, state.item, SIGNED if record.kind == "sign" else WAIVED,
                         note=record.reason, evidence=record.evidence, signed_text=record.item_text,
                         signed_id=signed_id, **common)
    if record.kind == "unsign":
        return ItemState(state.checklist, state.item, OPEN, note=record.reason, **common)
    if record.kind == "note" and record.reason:
        return replace(state, notes=state.notes + (record.reason,))
    return state


def claim_text(record: Record) -> str:
    return f"{record.kind} by {operator_label(record)} at {record.time} for “{record.item_text}” ({record.item_id})"


@dataclass
class Board:
    """Every item of every checklist with its state, plus records that match no item."""

    checklists: list[Checklist]
    states: dict[Key, ItemState] = field(default_factory=dict)
    orphans: list[Record] = field(default_factory=list)
    # records that could be for several items (identical twins, or a file name two files share)
    ambiguous: list[tuple[Record, tuple[Key, ...]]] = field(default_factory=list)
    verifications: dict[tuple[str, str], Record] = field(default_factory=dict)  # (source, file) -> newest "verify"
    _placer: Placer | None = None
    _phases: dict[str, list[Key]] = field(default_factory=dict)

    @classmethod
    def build(cls, checklists: list[Checklist], records: Iterable[Record] = ()) -> Board:
        board = cls(checklists)
        for checklist in checklists:
            name = checklist_name(checklist)
            for item in checklist.items:
                board.states[(name, item.id)] = ItemState(name, item)
                board._phases.setdefault(item.phase, []).append((name, item.id))
        board._placer = Placer(checklists)
        board.apply_all(records)
        return board

    def apply_all(self, records: Iterable[Record]) -> list[Key]:
        """Apply new records; return the keys whose state changed."""
        changed: dict[Key, None] = {}
        placer = self._placer or Placer(self.checklists)
        self._placer = placer
        for record in records:
            if record.kind == "verify":  # a backup verification: not an item, kept for the Backups panel
                self.verifications[(record.item_id, record.item_text)] = record
                continue
            if record.kind in ("action", "recovery") or record.checklist in NOT_CHECKLISTS:
                continue  # the ledger's own and the actions' records: never an item, never an orphan
            place = placer.place(record)
            if place.key is not None:
                state = self.states[place.key]
                new = apply(state, record, None if place.exact else record.item_id)
                if new != state:
                    self.states[place.key] = new
                    changed[place.key] = None
            elif place.candidates:
                self.ambiguous.append((record, place.candidates))
                for key in place.candidates:
                    state = self.states[key]
                    self.states[key] = replace(state, claims=state.claims + (claim_text(record),))
                    changed[key] = None
            else:
                self.orphans.append(record)
        return list(changed)

    def phase(self, phase: str) -> list[ItemState]:
        return [self.states[key] for key in self._phases.get(phase, ())]

    def progress(self, phase: str) -> tuple[int, int]:
        keys = self._phases.get(phase, ())
        return sum(1 for key in keys if self.states[key].done), len(keys)

    def phases(self) -> list[str]:
        """Phases that have items, in launch order."""
        return [p for p in PHASES if self._phases.get(p)]

    def find(self, item_id: str) -> list[ItemState]:
        return [s for (_, iid), s in self.states.items() if iid == item_id]
