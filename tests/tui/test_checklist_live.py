"""The checklist screen while the disk changes under it: a ledger whose chain breaks (and its repair),
a torn tail set aside by a sign-off, a checklist file edited or deleted. Each is said on screen and
told once; nothing after a bad line shows as signed."""

from launchdeck.audit.ledger import Ledger, Operator
from launchdeck.tui.screens.checklist import ChecklistScreen
from launchdeck.tui.screens.reason import ReasonModal
from launchdeck.tui.widgets.checklists_panel import ChecklistsPanel
from tests.tui.helpers import wait_until
from tests.tui.conftest import CHECKLIST
from tests.tui.test_checklist_screen import (
    app_for,
    open_checklists,
    rows,
    select,
    type_and_submit,
)


SIGNED = ("All services healthy", "Security review done", "Deploy to production")


def problems(app) -> str:
    return str(app.screen.query_one("#problems").render())


def told(app, words) -> list:
    return [n for n in app._notifications if words in n.message]


def ids_by_text(tmp):
    from launchdeck.checklists.parser import load_checklist
    return {i.text: i.id for i in load_checklist(tmp / "launch.md").items}


def signed_ledger(tmp, reason=None):
    ledger = Ledger(tmp / "signoff.jsonl")
    ids = ids_by_text(tmp)
    for text in SIGNED:
        ledger.append(checklist="launch.md", item_id=ids[text], item_text=text, kind="sign", reason=reason)
    return ledger


async def test_an_edited_signer_in_the_middle_is_not_shown_as_signed_and_the_line_and_repair_are_said(deck):
    tmp, _ = deck
    path = tmp / "signoff.jsonl"
    signed_ledger(tmp)
    lines = path.read_text().split("\n")
    lines[1] = lines[1].replace(f'"login":"{Operator.current().login}"', '"login":"mallory"')
    path.write_text("\n".join(lines))
    app = app_for(deck)
    async with app.run_test(size=(120, 30)) as pilot:
        await open_checklists(pilot, app)
        await wait_until(pilot, lambda: "INTEGRITY PROBLEM" in problems(app))
        shown = rows(app)
        assert shown["All services healthy"].state.status == "signed"
        for text in ("Security review done", "Deploy to production"):
            assert shown[text].state.status == "open" and "signed by" not in shown[text].plain()
        assert all("mallory" not in row.plain() for row in shown.values())
        words = problems(app).replace("\n", " ")
        assert "line 2 (edited)" in words and "launchdeck signoff repair" in words
        assert "2 line(s) from line 2" in words
        await pilot.pause(1.2)  # two more polls: told once, not on every poll
        assert len(told(app, "INTEGRITY PROBLEM at line 2")) == 1
        assert not told(app, "cannot be added until this is fixed")  # not a second message for the same thing
        await pilot.press("escape")
        panel = app.dashboard.query_one(ChecklistsPanel)
        await wait_until(pilot, lambda: "INTEGRITY PROBLEM at line 2" in str(panel.render()))


async def test_a_repair_while_open_rebuilds_the_board_and_clears_the_warning(deck):
    tmp, _ = deck
    path = tmp / "signoff.jsonl"
    ledger = signed_ledger(tmp)
    deploy = ids_by_text(tmp)["Deploy to production"]
    ledger.append(checklist="launch.md", item_id=deploy, item_text="Deploy to production", kind="note",
                  reason="v1.4.2 out")
    app = app_for(deck)
    async with app.run_test(size=(120, 30)) as pilot:
        await open_checklists(pilot, app)
        await wait_until(pilot, lambda: rows(app)["Deploy to production"].state.notes == ("v1.4.2 out",))
        with path.open("a") as raw:
            raw.write('{"seq": 41}\n')  # valid JSON, not a record
        await wait_until(pilot, lambda: "line 5 (malformed)" in problems(app))
        Ledger(path).repair()
        await wait_until(pilot, lambda: "INTEGRITY PROBLEM" not in problems(app))
        await wait_until(pilot, lambda: told(app, "repair: 1 line(s) from line 5"))
        assert "repair: 1 line(s) from line 5" in problems(app)
        shown = rows(app)
        assert shown["Deploy to production"].state.notes == ("v1.4.2 out",)  # read again, not added twice
        assert [shown[text].state.status for text in SIGNED] == ["signed"] * 3
        assert str(app.screen.query_one("#phases").get_tab("tab-pre-launch").label) == "Pre-launch 2/2"


async def test_a_torn_tail_set_aside_by_a_sign_off_is_told_and_shown(deck):
    tmp, _ = deck
    path = tmp / "signoff.jsonl"
    app = app_for(deck)
    async with app.run_test(size=(120, 30)) as pilot:
        await open_checklists(pilot, app)
        Ledger(path).append(checklist="launch.md", item_id="x", item_text="x", kind="note", reason="first")
        with path.open("ab") as raw:
            raw.write(b'{"seq": 2, "time": "2026-')  # another terminal crashed mid-line
        await select(pilot, app, "Security review done")
        await pilot.press("space")
        await wait_until(pilot, lambda: isinstance(app.screen, ReasonModal))
        await type_and_submit(pilot, "ok")
        await wait_until(pilot, lambda: told(app, "torn last line of 25 bytes"))
        await wait_until(pilot, lambda: isinstance(app.screen, ChecklistScreen)
                         and rows(app)["Security review done"].state.status == "signed")
        assert "torn last line of 25 bytes" in problems(app) and "recorded as seq 2" in problems(app)
        assert len(told(app, "torn last line")) == 1
    assert [r.kind for r in Ledger(path).records()] == ["note", "recovery", "sign"]
    assert [p.read_bytes() for p in tmp.glob("signoff.jsonl.torn-*")] == [b'{"seq": 2, "time": "2026-']


async def test_a_checklist_edited_while_open_is_reloaded_and_said(deck):
    tmp, _ = deck
    app = app_for(deck)
    async with app.run_test(size=(120, 30)) as pilot:
        await open_checklists(pilot, app)
        (tmp / "launch.md").write_text(CHECKLIST.replace("- [ ] Security review done\n",
                                                         "- [ ] Security review done\n- [ ] Rollback rehearsed\n"))
        await wait_until(pilot, lambda: told(app, "launch.md changed on disk: reloaded"))
        await wait_until(pilot, lambda: "Rollback rehearsed" in rows(app))
        assert str(app.screen.query_one("#phases").get_tab("tab-pre-launch").label) == "Pre-launch 0/3"
        await select(pilot, app, "Rollback rehearsed")
        await pilot.press("space")  # the new item can be signed at once
        await wait_until(pilot, lambda: isinstance(app.screen, ReasonModal))
        await type_and_submit(pilot, "done on staging")
        await wait_until(pilot, lambda: isinstance(app.screen, ChecklistScreen)
                         and rows(app)["Rollback rehearsed"].state.status == "signed")
        (tmp / "launch.md").write_text("# Launch\n## Post-launch\n- [ ] Only this\n## Handover\n- [ ] Notes\n")
        await wait_until(pilot, lambda: set(rows(app)) == {"Only this", "Notes"})  # phases gone and new: new tabs
        assert app.screen.query_one("#phases").active in ("tab-post-launch", "tab-other")
    assert [r.item_text for r in Ledger(tmp / "signoff.jsonl").records()] == ["Rollback rehearsed"]


async def test_a_checklist_deleted_while_open_keeps_the_last_version_and_says_so(deck):
    tmp, _ = deck
    app = app_for(deck)
    async with app.run_test(size=(120, 30)) as pilot:
        await open_checklists(pilot, app)
        (tmp / "launch.md").unlink()
        await wait_until(pilot, lambda: told(app, "launch.md is gone: showing the last version read"))
        assert "launch.md is gone" in problems(app)
        assert "Deploy to production" in rows(app)
        await pilot.pause(0.6)
        assert len(told(app, "launch.md is gone")) == 1


async def test_a_ledger_that_is_a_symbolic_link_is_said_once_and_the_board_still_shows(deck):
    tmp, _ = deck
    (tmp / "elsewhere.jsonl").write_text("")
    (tmp / "signoff.jsonl").symlink_to(tmp / "elsewhere.jsonl")
    app = app_for(deck)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: told(app, "symbolic link"))
        panel = app.dashboard.query_one(ChecklistsPanel)
        await wait_until(pilot, lambda: "pre-launch" in str(panel.render()))
        await pilot.pause(1.2)  # polls go on; the same problem is not told again
        assert len(told(app, "symbolic link")) == 1
