"""Sign, unsign, waive from the TUI: ask for the note or reason, apply the rule, write, then show.

The item changes on screen only after the record is read back from the ledger: a failed write
(disk full, permission) is reported and nothing looks signed.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from launchdeck.checklists.evidence import PASS
from launchdeck.audit.ledger import LedgerError
from launchdeck.checklists.signing import Request, SignoffRefused
from launchdeck.checklists.state import ItemState
from launchdeck.tui.palette import CRIT, OK, styled
from launchdeck.tui.screens.reason import ReasonModal

if TYPE_CHECKING:
    from launchdeck.tui.app import LaunchdeckApp


class SignoffFlow:
    def __init__(self, app: LaunchdeckApp) -> None:
        self.app = app

    def start(self, state: ItemState, kind: str) -> None:
        refusal = self._refusal(state, kind)
        if refusal:
            self.app.notify(refusal, severity="warning", timeout=5)
            return
        session = self.app.checklists
        evidence = session.evidence.get((state.checklist, state.item.id))
        needs_override = kind == "sign" and state.item.verify and (evidence is None or evidence.state != PASS)
        explain = styled(state.item.text, "bold")
        if state.item.verify:
            shown = f"{evidence.state}: {evidence.detail}" if evidence else "not evaluated yet"
            explain += styled(f"\nevidence {state.item.verify} → {shown}", CRIT if needs_override else OK)
        if needs_override:
            modal = ReasonModal("Evidence is not passing: sign anyway?", explain,
                                "why this is acceptable (recorded with the evidence)", True, "Override and sign")
        elif kind == "sign":
            modal = ReasonModal("Sign", explain, "note (optional)", False, "Sign")
        else:
            modal = ReasonModal(kind.capitalize(), explain, f"reason to {kind} (required)", True, kind.capitalize())

        def done(text: str | None) -> None:
            if text is None:
                return
            request = Request(state.checklist, state.item, kind, None if needs_override else text or None,
                              text if needs_override else None)
            self.app.run_worker(self._commit(request), group="signoff", exit_on_error=False)

        self.app.push_screen(modal, done)

    @staticmethod
    def _refusal(state: ItemState, kind: str) -> str:
        if kind == "sign" and state.status == "signed" and not state.changed_since_signed:
            return f"already signed by {state.by}; unsign it first (u) to sign again"
        if kind in ("sign", "waive") and state.item.ambiguous:
            return (f"“{state.item.text}” has an identical twin next to it: give each its own "
                    "<!-- id: name --> in the checklist to sign it")
        if kind == "unsign" and not state.done:
            return "this item is not signed or waived"
        if kind == "waive" and state.status == "waived":
            return f"already waived by {state.by}"
        return ""

    async def _commit(self, request: Request) -> None:
        """The engine signs (on its loop, against its live evidence; the write on its daemon pool);
        the item changes on screen when the engine has read the record back from the ledger."""
        try:
            record = await asyncio.wrap_future(self.app.engine.sign(request))
        except (SignoffRefused, ValueError) as error:
            self.app.notify(str(error), title="not signed", severity="warning", timeout=10)
            return
        except LedgerError as error:
            self.app.notify(str(error), title="NOT SIGNED: ledger write failed", severity="error", timeout=30)
            return
        except TimeoutError:
            self.app.notify("the ledger write has not finished: the disk is not answering. It is not signed "
                            "until the item shows it.", title="NOT SIGNED yet", severity="error", timeout=30)
            return
        self.app.notify(f"{record.kind} #{record.seq} recorded: {record.item_text}", timeout=4)
