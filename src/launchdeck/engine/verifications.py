"""Dump verifications, run by the engine: on its loop, because the SSH connections they use live there.

Results from earlier sessions and other terminals come from the ledger's "verify" records (the
board keeps the newest per file); a verification running here shows "running" until it ends.
A failure to record (disk full) is said, and the result is still shown: the check did happen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from launchdeck.audit.ledger import IO_TIMEOUT
from launchdeck.core.config import Config
from launchdeck.core.pool import BlockingPool
from launchdeck.engine.notices import VerificationNotice
from launchdeck.probes.backups.integrity import record_in_ledger, verification_ledger, verify_backup

if TYPE_CHECKING:
    from launchdeck.checklists.state import Board
    from launchdeck.core.model import Clock

Key = tuple[str, str]  # (source, file name)
# "passed" / "failed" (the checks ran), "running", "error" (could not run: SSH down, the file gone);
# "error" is not a verdict on the dump and is never recorded
PASSED, FAILED, RUNNING, ERROR = "passed", "failed", "running", "error"


class Verifications:
    def __init__(self, config: Config, probes: list, clock: Clock, pool: BlockingPool,
                 publish: Callable[[VerificationNotice], None], scrub: Callable[[str], str]) -> None:
        self.config, self.probes, self.clock, self.pool = config, probes, clock, pool
        self.publish, self.scrub = publish, scrub
        self.results: dict[Key, str] = {}
        self.summaries: dict[Key, str] = {}
        self._ledger_seen = 0

    def notice(self, message: str = "", failed: bool = False) -> VerificationNotice:
        return VerificationNotice.of(self.results, self.summaries, message, failed)

    def refusal(self, source: str) -> str:
        """Why `source` cannot be verified here, or "" when it can."""
        spec = next((b for b in self.config.backups if b.name == source), None)
        if spec is None or spec.kind != "directory":
            return f"{source}: only dump directories are verified here (pgBackRest: `pgbackrest verify`)"
        return ""

    def begin(self, source: str, name: str) -> bool:
        """Mark (source, name) running; False when it already is (the caller then starts nothing)."""
        key = (source, name)
        if self.results.get(key) == RUNNING:
            return False
        self.results[key] = RUNNING
        self.publish(self.notice())
        return True

    async def run(self, source: str, name: str) -> None:
        spec = next(b for b in self.config.backups if b.name == source)
        key = (source, name)
        probe = next((p for p in self.probes if p.panel == "backups" and p.target == source), None)
        try:
            verification = await verify_backup(spec, name, getattr(probe, "host", None),
                                               getattr(probe, "connections", None), self.clock.now)
        except Exception as error:  # SSH down, a bad name: the check did not happen
            self.results[key], self.summaries[key] = ERROR, self.scrub(f"could not verify: {error}")
            self.publish(self.notice(f"{source}/{name}: {self.summaries[key]}", failed=True))
            return
        words = await self.pool.run(record_in_ledger, verification_ledger(self.config), verification,
                                    timeout=IO_TIMEOUT)
        self.results[key] = PASSED if verification.passed else FAILED
        self.summaries[key] = self.scrub(verification.summary())
        verdict = "verified" if verification.passed else "FAILED"
        self.publish(self.notice(f"{source}/{name}: {verdict}: {self.summaries[key]} ({words})",
                                 failed=not verification.passed))

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


def newest_names(config: Config, latest: dict) -> list[tuple[str, str]]:
    """(source, newest file) of every directory source, as the panel shows it."""
    found = []
    for spec in config.backups:
        reading = latest.get(("backups", spec.name))
        newest = reading.values.get("newest") if reading else None
        if spec.kind == "directory" and newest:
            found.append((spec.name, str(newest)))
    return found
