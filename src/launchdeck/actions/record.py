"""Actions in the ledger (the same hash chain as sign-offs) and what the ledger says about versions.

Every record is kind "action", checklist "actions", item_id the action's name, item_text a one-line
summary, and `evidence` the details: {"event": "start" | "step" | "skipped" | "finish" |
"lock-broken", "run": the run's id, ...}. Appends run on launchdeck's daemon pool (flock, one
O_APPEND write, fsync), never on the event loop. A start record that cannot be written stops the
action before anything runs: an action nobody can see in the ledger does not happen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from launchdeck.audit.ledger import IO_TIMEOUT, Ledger
from launchdeck.core.pool import run_blocking

if TYPE_CHECKING:
    from launchdeck.audit.records import Record

CHECKLIST = "actions"
VERSIONED = ("deploy", "rollback")


@dataclass
class Recorder:
    """Appends one run's records; `run` ties them together."""

    ledger: Ledger
    action: str
    run: str

    async def append(self, event: str, summary: str, evidence: dict, reason: str | None = None) -> Record:
        body = {"event": event, "action": self.action, "run": self.run, **evidence}
        return await run_blocking(self.ledger.append, checklist=CHECKLIST, item_id=self.action, item_text=summary,
                                  kind="action", reason=reason, evidence=body, timeout=IO_TIMEOUT)


def action_finishes(records: Iterable[Record]) -> list[dict]:
    """The evidence of every action's finish record, oldest first."""
    return [r.evidence for r in records
            if r.kind == "action" and r.checklist == CHECKLIST and isinstance(r.evidence, dict)
            and r.evidence.get("event") == "finish"]


def deployed_versions(records: Iterable[Record]) -> tuple[str | None, str | None]:
    """(current, previous good): current is the version the latest deploy or rollback put in place
    (its steps succeeded, whatever its watch window said); previous good is the latest deploy whose
    watch window passed with another version. The rollback's {version}: nobody types it."""
    current: str | None = None
    good: list[str] = []
    for finish in action_finishes(records):
        version = (finish.get("params") or {}).get("version")
        if finish.get("action") not in VERSIONED or not isinstance(version, str):
            continue
        if finish.get("outcome") in ("done", "breached"):
            current = version
        if finish.get("action") == "deploy" and finish.get("outcome") == "done":
            good.append(version)
    previous = next((v for v in reversed(good) if v != current), None)
    return current, previous
