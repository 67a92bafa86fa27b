"""The checklist screen as the person who signs meets it: keys, modals, evidence, other terminals, a full disk."""

import resource
import signal

from launchdeck.tui.app import make_app
from launchdeck.audit.ledger import Ledger, verify
from launchdeck.core.config import parse_config
from launchdeck.core.model import FixedClock, Outcome, Status
from launchdeck.tui.screens.checklist import ChecklistScreen
from launchdeck.tui.screens.reason import ReasonModal
from launchdeck.tui.widgets.checklist_items import ItemList
from launchdeck.tui.widgets.checklists_panel import ChecklistsPanel
from tests.fakes import FakeProbe
from tests.tui.conftest import CHECKLIST  # what the `deck` fixture writes
from tests.tui.helpers import wait_until


def app_for(deck, status=Status.OK):
    _, config = deck
    return make_app(config, probes=[FakeProbe("web", [Outcome(status, "x")])], clock=FixedClock())


class Row:
    """One item as the screen shows it: its state and its line's text."""

    def __init__(self, listing: ItemList, index: int) -> None:
        self.state, self._listing, self._index = listing.state_at(index), listing, index

    def plain(self) -> str:
        return self._listing.plain(self._index)


def rows(app):
    return {listing.state_at(i).item.text: Row(listing, i)
            for listing in app.screen.query(ItemList) for i in range(len(listing.keys))}


def shown(app):
    """The texts of the active phase's items that the filter lets through."""
    listing = app.screen._list()
    return [listing.state_at(i).item.text for i in range(len(listing.keys))]


async def open_checklists(pilot, app):
    await wait_until(pilot, lambda: app.latest)
    await pilot.press("c")
    await wait_until(pilot, lambda: isinstance(app.screen, ChecklistScreen))
    await pilot.pause()


async def select(pilot, app, text):
    listing = app.screen._list()
    listing.move_to(shown(app).index(text))
    await pilot.pause()


async def type_and_submit(pilot, text):
    await pilot.press(*text) if text else None
    await pilot.press("enter")


async def test_sign_with_a_note_is_written_then_shown(deck):
    tmp, _ = deck
    app = app_for(deck)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_checklists(pilot, app)
        assert str(app.screen.query_one("#phases").get_tab("tab-pre-launch").label) == "Pre-launch 0/2"
        await select(pilot, app, "Security review done")
        await pilot.press("space")
        await wait_until(pilot, lambda: isinstance(app.screen, ReasonModal))
        await type_and_submit(pilot, "pen test report attached")
        await wait_until(pilot, lambda: isinstance(app.screen, ChecklistScreen) and
                         rows(app)["Security review done"].state.status == "signed")
        row = rows(app)["Security review done"].plain()
        assert row.startswith("[✓]") and "signed by" in row and "pen test report attached" in row
        assert str(app.screen.query_one("#phases").get_tab("tab-pre-launch").label) == "Pre-launch 1/2"
    records = Ledger(tmp / "signoff.jsonl").records()
    assert [(r.kind, r.item_text, r.reason) for r in records] == [("sign", "Security review done",
                                                                   "pen test report attached")]
    assert verify(tmp / "signoff.jsonl").ok


async def test_passing_evidence_signs_and_is_stored_in_the_record(deck):
    tmp, _ = deck
    app = app_for(deck)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_checklists(pilot, app)
        assert rows(app)["All services healthy"].plain().startswith("[ ] ✓ ")
        await select(pilot, app, "All services healthy")
        await pilot.press("space")
        await wait_until(pilot, lambda: isinstance(app.screen, ReasonModal))
        await type_and_submit(pilot, "")
        await wait_until(pilot, lambda: rows(app)["All services healthy"].state.status == "signed")
    record = Ledger(tmp / "signoff.jsonl").records()[0]
    assert record.evidence["expr"] == "services.all_ok" and record.evidence["state"] == "pass"


async def test_failing_evidence_needs_an_override_reason(deck):
    tmp, _ = deck
    app = app_for(deck, Status.CRIT)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_checklists(pilot, app)
        assert rows(app)["All services healthy"].plain().startswith("[ ] ✗ ")
        await select(pilot, app, "All services healthy")
        await pilot.press("space")
        await wait_until(pilot, lambda: isinstance(app.screen, ReasonModal))
        await type_and_submit(pilot, "")
        assert isinstance(app.screen, ReasonModal)
        assert "a reason is required" in str(app.screen.query_one("#problem").render())
        await type_and_submit(pilot, "web is a canary, known down")
        await wait_until(pilot, lambda: isinstance(app.screen, ChecklistScreen) and
                         rows(app)["All services healthy"].state.status == "signed")
    record = Ledger(tmp / "signoff.jsonl").records()[0]
    assert record.evidence["state"] == "fail" and record.evidence["override"] == "web is a canary, known down"
    assert record.reason == "override: web is a canary, known down"


async def test_unsign_and_waive_need_a_reason_and_cancel_records_nothing(deck):
    tmp, _ = deck
    app = app_for(deck)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_checklists(pilot, app)
        await select(pilot, app, "Security review done")
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, ReasonModal))
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ChecklistScreen))
        assert not (tmp / "signoff.jsonl").exists()
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, ReasonModal))
        await type_and_submit(pilot, "")
        assert isinstance(app.screen, ReasonModal)
        await type_and_submit(pilot, "done by the vendor")
        await wait_until(pilot, lambda: rows(app)["Security review done"].state.status == "waived")
        await pilot.press("u")
        await wait_until(pilot, lambda: isinstance(app.screen, ReasonModal))
        await type_and_submit(pilot, "vendor report missing")
        await wait_until(pilot, lambda: rows(app)["Security review done"].state.status == "open")
    kinds = [(r.kind, r.reason) for r in Ledger(tmp / "signoff.jsonl").records()]
    assert kinds == [("waive", "done by the vendor"), ("unsign", "vendor report missing")]


async def test_filter_next_open_and_phase_keys(deck):
    app = app_for(deck)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_checklists(pilot, app)
        await pilot.press("right_square_bracket")
        assert app.screen.query_one("#phases").active == "tab-launch-day"
        await pilot.press("slash", *"smoke")
        assert shown(app) == ["Run smoke tests"]
        await pilot.press("escape")  # closes the filter, not the screen
        assert isinstance(app.screen, ChecklistScreen)
        assert shown(app) == ["Deploy to production", "Run smoke tests"]
        await pilot.press("left_square_bracket")
        assert app.screen.selected().item.text == "All services healthy"
        await pilot.press("n")  # the next open item after the cursor
        assert app.screen.selected().item.text == "Security review done"
        await pilot.press("n")  # past the end of a phase: on into the next phase
        assert app.screen.query_one("#phases").active == "tab-launch-day"
        assert app.screen.selected().item.text == "Deploy to production"
        await pilot.press("escape")
        assert app.screen is app.dashboard


async def test_another_terminals_sign_off_shows_within_a_second(deck):
    tmp, config = deck
    app = app_for(deck)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_checklists(pilot, app)
        other = Ledger(tmp / "signoff.jsonl")  # what `launchdeck signoff add` in another terminal does
        other.append(checklist="launch.md", item_id=rows(app)["Deploy to production"].state.item.id,
                     item_text="Deploy to production", kind="sign", reason="v1.4.2 out")
        await wait_until(pilot, lambda: rows(app)["Deploy to production"].state.status == "signed", timeout=1.5)
        await pilot.press("escape")
        panel = app.dashboard.query_one(ChecklistsPanel)
        await wait_until(pilot, lambda: "launch-day" in str(panel.render()))
        assert "1/2" in str(panel.render())


async def test_a_full_disk_is_reported_and_nothing_is_shown_signed(deck):
    tmp, _ = deck
    app = app_for(deck)
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_checklists(pilot, app)
        await select(pilot, app, "Security review done")
        await pilot.press("space")
        await wait_until(pilot, lambda: isinstance(app.screen, ReasonModal))
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))  # every write that grows a file fails: EFBIG
        try:
            await type_and_submit(pilot, "ok")
            await wait_until(pilot, lambda: any("NOT SIGNED" in (n.title or "") for n in app._notifications))
            await pilot.pause(0.6)  # a ledger poll happens: still nothing signed
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            signal.signal(signal.SIGXFSZ, previous_handler)
        assert rows(app)["Security review done"].state.status == "open"
        note = next(n for n in app._notifications if "NOT SIGNED" in (n.title or ""))
        assert "signoff.jsonl" in note.message
    ledger = tmp / "signoff.jsonl"
    assert not ledger.exists() or Ledger(ledger).records() == []


async def test_a_torn_last_line_is_reported_at_start_and_set_aside(deck):
    tmp, _ = deck
    ledger_file = tmp / "signoff.jsonl"
    Ledger(ledger_file).append(checklist="launch.md", item_id="x", item_text="x", kind="note", reason="first")
    with ledger_file.open("ab") as file:
        file.write(b'{"seq": 2, "time": "2026-')  # a crash mid-line
    app = app_for(deck)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: any("torn" in n.message for n in app._notifications))
    side_files = list(tmp.glob("signoff.jsonl.torn-*"))
    assert len(side_files) == 1 and side_files[0].read_bytes() == b'{"seq": 2, "time": "2026-'
    assert verify(ledger_file).ok
    assert [r.kind for r in Ledger(ledger_file).records()] == ["note", "recovery"]


async def test_an_edited_ledger_is_reported_and_the_checklist_still_shows(deck):
    tmp, _ = deck
    ledger_file = tmp / "signoff.jsonl"
    Ledger(ledger_file).append(checklist="launch.md", item_id="x", item_text="x", kind="note", reason="first")
    ledger_file.write_text(ledger_file.read_text().replace("first", "forged"))
    app = app_for(deck)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: any("cannot be added" in n.message for n in app._notifications))
        await open_checklists(pilot, app)
        await select(pilot, app, "Security review done")
        await pilot.press("space")
        await wait_until(pilot, lambda: isinstance(app.screen, ReasonModal))
        await type_and_submit(pilot, "ok")
        await wait_until(pilot, lambda: any("NOT SIGNED" in (n.title or "") for n in app._notifications))
        assert rows(app)["Security review done"].state.status == "open"
    assert "forged" in ledger_file.read_text() and len(ledger_file.read_text().splitlines()) == 1


async def test_a_5000_item_phase_is_one_list_and_the_keys_reach_every_item(tmp_path):
    items = "".join(f"- [ ] Check host {n} answers\n" for n in range(5000))
    (tmp_path / "launch.md").write_text(f"# Launch\n## Launch day\n{items}- [ ] Last [red]one[/red] \x1b[2J\n")
    config = parse_config('[deck]\nname = "shop"\n[checklists]\nfiles = ["launch.md"]\nledger = "signoff.jsonl"\n',
                          str(tmp_path / "launchdeck.toml"), {})
    app = make_app(config, probes=[], clock=FixedClock())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ChecklistScreen))
        await pilot.pause()
        assert len(app.screen.query(ItemList)) == 1  # not a widget per item
        listing = app.screen._list()
        assert len(listing.keys) == 5001
        await pilot.press("end")
        assert app.screen.selected().item.text == "Last [red]one[/red] \x1b[2J"
        assert listing.plain(listing.cursor) == "[ ] Last [red]one[/red] ␛[2J"  # no markup, no escape obeyed
        await pilot.press("pageup", "down", "down")
        assert listing.cursor == 5000 - (listing.scrollable_content_region.height - 1) + 2
        await pilot.press("end", "space")
        await wait_until(pilot, lambda: isinstance(app.screen, ReasonModal))
        await type_and_submit(pilot, "checked")
        await wait_until(pilot, lambda: isinstance(app.screen, ChecklistScreen) and
                         app.screen.selected().status == "signed")
        assert str(app.screen.query_one("#phases").get_tab("tab-launch-day").label) == "Launch day 1/5001"
        await pilot.press("slash", *"host 4999")
        assert shown(app) == ["Check host 4999 answers"]
    assert [r.item_text for r in Ledger(tmp_path / "signoff.jsonl").records()] == ["Last [red]one[/red] \x1b[2J"]


async def test_a_twin_added_above_a_signed_item_shows_a_claim_not_a_sign_off(deck):
    tmp, _ = deck
    (tmp / "launch.md").write_text(CHECKLIST)
    first = app_for(deck)
    async with first.run_test(size=(100, 30)) as pilot:
        await open_checklists(pilot, first)
        await pilot.press("right_square_bracket")
        await select(pilot, first, "Deploy to production")
        await pilot.press("space")
        await wait_until(pilot, lambda: isinstance(first.screen, ReasonModal))
        await type_and_submit(pilot, "v2")
        await wait_until(pilot, lambda: rows(first)["Deploy to production"].state.status == "signed")
    (tmp / "launch.md").write_text(CHECKLIST.replace("- [ ] Deploy to production\n",
                                                     "- [ ] Deploy to production\n- [ ] Deploy to production\n"))
    second = app_for(deck)
    async with second.run_test(size=(100, 30)) as pilot:
        await open_checklists(pilot, second)
        await pilot.press("right_square_bracket")
        states = [second.screen._list().state_at(i) for i in range(2)]
        assert [s.status for s in states] == ["open", "open"] and all(s.claims for s in states)
        assert "which one?" in second.screen._list().plain(0)
        assert "could be for several identical items" in str(second.screen.query_one("#problems").render())
        await pilot.press("space")  # an ambiguous twin cannot be signed: said, nothing written
        await wait_until(pilot, lambda: any("identical twin" in n.message for n in second._notifications))
    assert len(Ledger(tmp / "signoff.jsonl").records()) == 1
