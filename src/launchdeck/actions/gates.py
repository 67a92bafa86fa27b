"""What the dashboard says before an action runs: the phase gate, and warnings from the live state.

The gate is the one thing that blocks: a deploy while the pre-launch checklist (of the configured
`[checklists] files`) still has open items is refused unless the operator overrides it with a
reason, and the override is recorded in the start record. Warnings (a backup older than its max
age, services or traffic not ok) never block: they are shown before the confirmation and recorded
too, so nobody can later say the dashboard was red and no one looked. Both are plain functions of a
Board and a Snapshot: the CLI reads the disk and runs the probes once; the TUI's confirmation modal
passes the engine's live board and snapshot, and both say the same words.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from launchdeck.actions.plan import Plan, Refused
from launchdeck.core.config import Config
from launchdeck.core.model import ACT_FIRST, Reading, Status
from launchdeck.core.plain import visible

if TYPE_CHECKING:
    from launchdeck.checklists.state import Board
    from launchdeck.engine.state import Snapshot

GATED = ("deploy",)  # a rollback or a restore is how a bad launch is undone: never held back by a checklist
PHASE = "pre-launch"
OVERRIDE = "--override-gate --reason TEXT"
SHOWN_ITEMS = 10  # open items named in a refusal; the rest counted


@dataclass(frozen=True)
class OpenItem:
    """A pre-launch item not signed or waived yet (people's text: shown through visible())."""

    checklist: str
    id: str
    text: str
    status: str

    def words(self) -> str:
        return visible(f"{self.checklist}: {self.text}")

    def to_json(self) -> dict[str, Any]:
        return {"checklist": self.checklist, "id": self.id, "text": self.text, "status": self.status}


@dataclass(frozen=True)
class Gate:
    """The phase gate for one action: closed while pre-launch items are open or cannot be read."""

    applies: bool  # a gated action and configured checklist files
    open: tuple[OpenItem, ...] = ()
    problem: str = ""  # the checklists or the ledger could not be read: the gate is closed, saying why
    notes: tuple[str, ...] = ()  # worth seeing, not blocking (the ledger's chain fails its check)

    @property
    def closed(self) -> bool:
        return self.applies and bool(self.open or self.problem)

    def words(self) -> str:
        """One line: why the gate is closed (or "" when it is open)."""
        if not self.closed:
            return ""
        if self.problem:
            return f"the pre-launch checklist cannot be checked: {visible(self.problem)}"
        named = "; ".join(item.words() for item in self.open[:SHOWN_ITEMS])
        more = f"; and {len(self.open) - SHOWN_ITEMS} more" if len(self.open) > SHOWN_ITEMS else ""
        return f"the pre-launch checklist is incomplete: {len(self.open)} item(s) open: {named}{more}"

    def to_json(self, override: str | None = None) -> dict[str, Any]:
        return {"phase": PHASE, "closed": self.closed, "open": [item.to_json() for item in self.open],
                "problem": self.problem or None, "overridden": self.closed and override is not None,
                "override_reason": override if self.closed else None}


def gated(config: Config, action: str) -> bool:
    """The gate applies to a deploy when checklist files are configured (the packaged templates never gate)."""
    return action in GATED and config.checklists is not None and bool(config.checklists.files)


def pre_launch_open(board: Board) -> list[OpenItem]:
    """The board's pre-launch items neither signed nor waived, in checklist order."""
    return [OpenItem(state.checklist, state.item.id, state.item.text, state.status)
            for state in board.phase(PHASE) if not state.done]


def read_board(config: Config) -> tuple[Board, tuple[str, ...]]:
    """The board exactly as `launchdeck report` builds it (configured files, verified records only), and
    the ledger's integrity problem in words when its chain fails the check. Raises on unreadable files."""
    from launchdeck.audit.chain import check_ledger
    from launchdeck.checklists.report import integrity_words
    from launchdeck.checklists.signing import ledger_path, load_checklists
    from launchdeck.checklists.state import Board

    path = ledger_path(config)
    checked = check_ledger(path, missing_ok=True)
    ok, words = integrity_words(checked, path)
    return Board.build(load_checklists(config), checked.records), (() if ok else (words,))


def phase_gate(config: Config, action: str, board: Board | None = None) -> Gate:
    """The gate for `action`; `board` is the live one (the TUI), else it is read from disk (the CLI)."""
    from launchdeck.core.errors import LaunchdeckError

    if not gated(config, action):
        return Gate(False)
    notes: tuple[str, ...] = ()
    if board is None:
        try:
            board, notes = read_board(config)
        except (LaunchdeckError, OSError) as error:
            return Gate(True, problem=str(error))
    return Gate(True, tuple(pre_launch_open(board)), notes=notes)


def state_warnings(state: Snapshot | Iterable[Reading]) -> list[str]:
    """Every reading that is not ok (a late backup, a service down, traffic in breach, a target unknown),
    worst first, one line each: "backups main_db: warn: newest dump 31h old (max 26h)". Exact text
    (recorded as it is): show it through visible()."""
    readings = list(state.readings.values()) if hasattr(state, "readings") else list(state)
    bad = sorted((r for r in readings if r.status is not Status.OK),
                 key=lambda r: (-r.status.severity, ACT_FIRST.get(r.panel, len(ACT_FIRST)), r.panel, r.target))
    return [f"{r.panel} {r.target}: {r.status.value}" + (f": {r.reason}" if r.reason else "") for r in bad]


async def gather_warnings(config: Config) -> list[str]:
    """Every configured probe once (the engine's run_once, as `launchdeck check`), as warnings."""
    from launchdeck.engine.engine import Engine
    from launchdeck.probes import build_probes

    try:
        probes = build_probes(config)
        if not probes:
            return []
        snapshot = await Engine(config, probes).run_once()
    except Exception as error:  # noqa: BLE001 - warnings never block: say the state is unknown instead
        return [f"the current state could not be read: {type(error).__name__}: {error}"]
    return state_warnings(snapshot)


def lock_holder(ledger: Path) -> str:
    """Who holds the action lock now, in printable words ("" when nobody does): the confirmation shows
    it before anyone types a word, though taking the lock stays the run's own check."""
    from launchdeck.actions import lock as locks

    path = locks.lock_path_for(ledger)
    try:
        holder = locks.read_holder(path)
    except locks.LockError as error:
        return visible(str(error))
    return "" if holder is None else locks.describe(holder, path)


def settle(plan: Plan, gate: Gate, warnings: Iterable[str], override: str | None) -> None:
    """Put the gate and the warnings on the plan (the start record carries them); Refused when the gate
    is closed and not overridden. `override` is the operator's reason, None when not overriding."""
    if override is not None and not override.strip():
        raise Refused(f"overriding the phase gate needs a reason: {OVERRIDE} (the reason is recorded)")
    plan.warnings = [*warnings, *gate.notes]
    plan.gate = gate.to_json(override) if gate.applies else None
    if gate.closed and override is None:
        raise Refused(f"{gate.words()}; finish it first, or deploy anyway with {OVERRIDE} (recorded)")
