"""Verify backups from the TUI: one worker per file, the result on the panel and list, then the ledger.

Results from earlier sessions and other terminals come from the ledger's "verify" records (the
board keeps the newest per file); a verification running here shows "verifying…" until it ends.
A failure to record (disk full) is said, and the result is still shown: the check did happen.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..backups.verify import record_in_ledger, verification_ledger, verify_backup

if TYPE_CHECKING:
    from ..app import LaunchdeckApp
    from ..checklists.state import Board

Key = tuple[str, str]  # (source, file name)


class VerifyFlow:
    def __init__(self, app: LaunchdeckApp) -> None:
        self.app = app
        self.results: dict[Key, bool | None] = {}  # None while running
        self.summaries: dict[Key, str] = {}
        self._ledger_seen = 0

    def newest(self) -> None:
        """The newest dump of every directory source, as the panel shows it."""
        started = 0
        for spec in self.app.config.backups:
            reading = self.app.latest.get(("backups", spec.name))
            newest = reading.values.get("newest") if reading else None
            if spec.kind == "directory" and newest:
                started += self.start(spec.name, str(newest))
        if not started:
            self.app.notify("nothing to verify: no dump directory has a newest backup yet", severity="warning",
                            timeout=5)

    def start(self, source: str, name: str) -> bool:
        spec = next((b for b in self.app.config.backups if b.name == source), None)
        if spec is None or spec.kind != "directory":
            self.app.notify(f"{source}: only dump directories are verified here (pgBackRest: `pgbackrest verify`)",
                            severity="warning", timeout=5)
            return False
        key = (source, name)
        if key in self.results and self.results[key] is None:
            return False  # already running
        self.results[key] = None
        self.app.show_verifications()
        self.app.run_worker(self._run(spec, name), name=f"verify:{source}/{name}", group="verify",
                            exit_on_error=False)
        return True

    async def _run(self, spec, name: str) -> None:
        key = (spec.name, name)
        probe = next((p for p in self.app.probes if p.panel == "backups" and p.target == spec.name), None)
        scrub = self.app.scrub
        try:
            verification = await verify_backup(spec, name, getattr(probe, "host", None),
                                               getattr(probe, "connections", None), self.app.clock.now)
        except Exception as error:  # SSH down, a bad name: the check did not happen
            self.results[key], self.summaries[key] = False, scrub(f"not verified: {error}")
            self.app.notify(f"{spec.name}/{name}: {self.summaries[key]}", severity="error", timeout=10)
            self.app.show_verifications()
            return
        words = await asyncio.to_thread(record_in_ledger, verification_ledger(self.app.config), verification)
        self.results[key], self.summaries[key] = verification.passed, scrub(verification.summary())
        self.app.notify(f"{spec.name}/{name}: {'verified' if verification.passed else 'FAILED'}: "
                        f"{self.summaries[key]} ({words})", severity="information" if verification.passed else "error",
                        timeout=10)
        self.app.show_verifications()

    def absorb(self, board: Board) -> bool:
        """Take results recorded in the ledger (here, earlier, or by another terminal); True when any is new."""
        newest = max((record.seq for record in board.verifications.values()), default=0)
        if newest == self._ledger_seen:
            return False
        self._ledger_seen = newest
        for key, record in board.verifications.items():
            if self.results.get(key, True) is not None:  # never overwrite one running now
                self.results[key] = (record.evidence or {}).get("result") == "passed"
                self.summaries[key] = (f"{record.reason} ({record.time[:16].replace('T', ' ')} UTC by "
                                       f"{record.operator.get('login', '?')})")
        return True
