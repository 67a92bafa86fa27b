"""Verify backups from the TUI: one worker per file, the result on the panel and list, then the ledger.

Results from earlier sessions and other terminals come from the ledger's "verify" records (the
board keeps the newest per file); a verification running here shows "verifying…" until it ends.
A failure to record (disk full) is said, and the result is still shown: the check did happen.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from launchdeck.probes.backups.integrity import record_in_ledger, verification_ledger, verify_backup

if TYPE_CHECKING:
    from launchdeck.tui.app import LaunchdeckApp
    from launchdeck.checklists.state import Board

Key = tuple[str, str]  # (source, file name)
# a verification's state: "passed" / "failed" (the checks ran), "running", "error" (could not run:
# SSH down, the file gone); "error" is not a verdict on the dump and is never recorded
PASSED, FAILED, RUNNING, ERROR = "passed", "failed", "running", "error"


class VerifyFlow:
    def __init__(self, app: LaunchdeckApp) -> None:
        self.app = app
        self.results: dict[Key, str] = {}
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
        if self.results.get(key) == RUNNING:
            return False
        self.results[key] = RUNNING
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
            self.results[key], self.summaries[key] = ERROR, scrub(f"could not verify: {error}")
            self.app.notify(f"{spec.name}/{name}: {self.summaries[key]}", severity="error", timeout=10)
            self.app.show_verifications()
            return
        words = await asyncio.to_thread(record_in_ledger, verification_ledger(self.app.config), verification)
        self.results[key] = PASSED if verification.passed else FAILED
        self.summaries[key] = scrub(verification.summary())
        self.app.notify(f"{spec.name}/{name}: {'verified' if verification.passed else 'FAILED'}: "
                        f"{self.summaries[key]} ({words})", severity="information" if verification.passed else "error",
                        timeout=10)
        self.app.show_verifications()

    def absorb(self, board: Board) -> bool:
        """Take results recorded in the ledger (here, earlier, or by another terminal); True when any is new."""
        fresh = [(k, r) for k, r in board.verifications.items() if r.seq > self._ledger_seen]
        if not fresh:
            return False
        self._ledger_seen = max(r.seq for _, r in fresh)
        for key, record in fresh:  # only records new since the last look: older ones are already shown
            if self.results.get(key) != RUNNING:
                self.results[key] = PASSED if (record.evidence or {}).get("result") == PASSED else FAILED
                self.summaries[key] = (f"{record.reason} ({record.time[:16].replace('T', ' ')} UTC by "
                                       f"{record.operator.get('login', '?')})")
        return True
