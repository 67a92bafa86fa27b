"""The one signing rule, shared by `launchdeck signoff add` and the checklist screen.

An item that names live evidence can be signed while the evidence passes; otherwise only with an
explicit override and a reason, and the evidence as it stood is stored in the record either way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from launchdeck.audit.ledger import Ledger, Record
from launchdeck.checklists.evidence import (
    PASS,
    Condition,
    EvidenceSyntaxError,
    evaluate,
    parse_condition,
)
from launchdeck.checklists.parser import (
    Checklist,
    ChecklistItem,
    default_checklists,
    load_checklist,
)
from launchdeck.core.config import ChecklistsConfig, Config
from launchdeck.core.errors import LaunchdeckError
from launchdeck.core.history import ReadingHistory


class SignoffRefused(LaunchdeckError):
    """Signing was refused by the rules (not by the disk): the message says what to do instead."""
    title = "not signed"


@dataclass(frozen=True)
class Request:
    checklist: str
    item: ChecklistItem
    kind: str  # sign | unsign | waive | note
    text: str | None = None  # the note, or the reason (required for unsign / waive)
    override: str | None = None  # reason to sign despite failing or unknown evidence


def evidence_for(item: ChecklistItem, history: ReadingHistory | None, now: datetime) -> tuple[dict | None, str]:
    """(snapshot, state) of the item's evidence now; (None, "") when the item names none."""
    if not item.verify:
        return None, ""
    try:
        condition: Condition = parse_condition(item.verify)
    except EvidenceSyntaxError as error:
        return {"expr": item.verify, "state": "unknown", "detail": str(error), "at": now.isoformat()}, "unknown"
    if history is None:
        return {"expr": item.verify, "state": "unknown", "detail": "not evaluated: no live readings",
                "at": now.isoformat()}, "unknown"
    result = evaluate(condition, history, now)
    return result.snapshot(condition, now), result.state


@dataclass(frozen=True)
class Entry:
    """Exactly what will be appended: decided on the event loop, written from any thread."""

    checklist: str
    item_id: str
    item_text: str
    kind: str
    reason: str | None
    evidence: dict | None

    def append_to(self, ledger: Ledger) -> Record:
        return ledger.append(checklist=self.checklist, item_id=self.item_id, item_text=self.item_text,
                             kind=self.kind, reason=self.reason, evidence=self.evidence)


def prepare(request: Request, history: ReadingHistory | None, now: datetime) -> Entry:
    """Apply the signing rule; raise SignoffRefused with what to do instead."""
    if request.kind in ("unsign", "waive") and not (request.text or "").strip():
        raise SignoffRefused(f"{request.kind} needs a reason")
    if request.item.ambiguous and request.kind in ("sign", "waive"):
        raise SignoffRefused(f"line {request.item.line}: “{request.item.text}” has an identical twin next to it, "
                             "so a sign-off could later land on the wrong one; give each its own "
                             "<!-- id: name --> in the checklist, then sign")
    evidence, state = evidence_for(request.item, history, now) if request.kind == "sign" else (None, "")
    reason = request.text
    if evidence is not None and state != PASS:
        if not (request.override or "").strip():
            raise SignoffRefused(f"evidence {request.item.verify!r} is {state}: {evidence['detail']}; "
                                 "sign with an override and a reason, or wait for it to pass")
        evidence = {**evidence, "override": request.override}
        reason = f"override: {request.override}" + (f"; note: {request.text}" if request.text else "")
    return Entry(request.checklist, request.item.id, request.item.text, request.kind, reason, evidence)


def sign(ledger: Ledger, request: Request, history: ReadingHistory | None, now: datetime) -> Record:
    """Prepare and append durably, or raise SignoffRefused / ValueError / LedgerError."""
    return prepare(request, history, now).append_to(ledger)


def checklist_key(config: Config, path: Path) -> str:
    """What records call a configured checklist file: its path relative to the config file's folder
    (`teamA/launch.md`), so two files with one name stay two; `launch.md` beside the config is
    `launch.md`, as it always was. The CLI's `signoff add --config` should sign with this key."""
    resolved = config.resolve(path)
    if config.source.startswith("<"):
        return path.as_posix()
    return Path(os.path.relpath(resolved, Path(config.source).parent)).as_posix()


def load_checklists(config: Config) -> list[Checklist]:
    section = config.checklists or ChecklistsConfig()
    if not section.files:
        return default_checklists()
    return [load_checklist(config.resolve(path), phase=section.phases.get(path.name), overrides=section.phases,
                           key=checklist_key(config, path))
            for path in section.files]


def ledger_path(config: Config) -> Path:
    return config.resolve((config.checklists or ChecklistsConfig()).ledger)
