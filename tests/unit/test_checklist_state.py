"""Folding ledger records into item states, the signing rule, and the report."""

import json
from datetime import datetime, timezone

import pytest

from launchdeck.audit.ledger import Ledger
from launchdeck.checklists.parser import parse_checklist
from launchdeck.checklists.signing import Request, SignoffRefused, prepare, sign
from launchdeck.checklists.state import Board
from launchdeck.core.history import ReadingHistory
from launchdeck.core.model import Reading, Status
from launchdeck.checklists.report import report_json, report_markdown

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)
TEXT = """# Launch
## Pre-launch
- [ ] Backups verified <!-- verify: backups.age < 26h -->
- [x] Security review done
## Launch day
- [ ] Deploy to production
"""


@pytest.fixture
def checklist():
    return parse_checklist(TEXT, "launch.md")


def item(checklist, text):
    return next(i for i in checklist.items if i.text == text)


def test_board_folds_sign_waive_unsign_note_and_keeps_orphans(tmp_path, checklist):
    ledger = Ledger(tmp_path / "l.jsonl")
    deploy = item(checklist, "Deploy to production")
    review = item(checklist, "Security review done")
    ledger.append(checklist="launch.md", item_id=deploy.id, item_text=deploy.text, kind="sign", reason="v2")
    ledger.append(checklist="launch.md", item_id=review.id, item_text=review.text, kind="waive", reason="vendor")
    ledger.append(checklist="launch.md", item_id=review.id, item_text=review.text, kind="note", reason="see ticket")
    ledger.append(checklist="launch.md", item_id="pre-launch/gone/old-item", item_text="Old item", kind="sign")
    board = Board.build([checklist], ledger.records())
    states = {s.item.text: s for s in board.states.values()}
    assert states["Deploy to production"].status == "signed" and states["Deploy to production"].note == "v2"
    assert states["Security review done"].status == "waived" and states["Security review done"].notes == ("see ticket",)
    assert states["Backups verified"].status == "open"
    assert board.progress("pre-launch") == (1, 2) and board.progress("launch-day") == (1, 1)
    assert board.phases() == ["pre-launch", "launch-day"]
    assert [r.item_text for r in board.orphans] == ["Old item"]
    ledger.append(checklist="launch.md", item_id=deploy.id, item_text=deploy.text, kind="unsign", reason="rolled back")
    changed = board.apply_all(ledger.records()[-1:])
    assert changed == [("launch.md", deploy.id)] and board.states[("launch.md", deploy.id)].status == "open"


def test_a_reworded_item_keeps_its_sign_off_and_says_it_changed(tmp_path, checklist):
    ledger = Ledger(tmp_path / "l.jsonl")
    deploy = item(checklist, "Deploy to production")
    ledger.append(checklist="launch.md", item_id=deploy.id, item_text="deploy to Production", kind="sign")
    reworded = parse_checklist(TEXT.replace("Deploy to production", "**Deploy** to production"), "launch.md")
    state = Board.build([reworded], ledger.records()).states[("launch.md", deploy.id)]
    assert state.status == "signed"
    assert state.changed_since_signed


def history_with(status):
    history = ReadingHistory()
    history.add(Reading("backups", "main_db", status, "", {"age_seconds": 3600.0}, NOW, 0.0))
    return history


def test_signing_rule_evidence_override_and_reasons(checklist, tmp_path):
    backups = item(checklist, "Backups verified")
    entry = prepare(Request("launch.md", backups, "sign", "fresh"), history_with(Status.OK), NOW)
    assert entry.evidence["state"] == "pass" and entry.evidence["values"] == {"main_db": 3600.0}
    assert entry.reason == "fresh"
    with pytest.raises(SignoffRefused, match="override"):
        prepare(Request("launch.md", backups, "sign"), None, NOW)  # no live data: not proven
    overridden = prepare(Request("launch.md", backups, "sign", None, "restore test done by hand"), None, NOW)
    assert overridden.evidence["state"] == "unknown" and overridden.reason == "override: restore test done by hand"
    with pytest.raises(SignoffRefused, match="needs a reason"):
        prepare(Request("launch.md", backups, "waive", "  "), None, NOW)
    record = sign(Ledger(tmp_path / "l.jsonl"), Request("launch.md", backups, "sign", "x"), history_with(Status.OK), NOW)
    assert record.kind == "sign" and record.evidence["expr"] == "backups.age < 26h"


def test_report_lists_each_phase_with_who_when_and_waivers(tmp_path, checklist):
    ledger = Ledger(tmp_path / "l.jsonl")
    review = item(checklist, "Security review done")
    ledger.append(checklist="launch.md", item_id=review.id, item_text=review.text, kind="waive",
                  reason="vendor did it")
    board = Board.build([checklist], ledger.records())
    markdown = report_markdown(board, "shop (production)")
    assert "## pre-launch (1/2)" in markdown and "## launch-day (0/1)" in markdown
    assert "- [~] Security review done — waived by" in markdown and "(reason: vendor did it)" in markdown
    document = json.loads(report_json(board, "shop"))
    review_json = document["phases"][0]["items"][1]
    assert review_json["status"] == "waived" and review_json["note"] == "vendor did it" and review_json["by"]


# --- identity that survives editing ------------------------------------------------------------

def signed_board(tmp_path, before: str, after: str, text: str, name: str = "launch.md"):
    """Sign `text` in `before`, then build the board over `after` from the same ledger."""
    ledger = Ledger(tmp_path / "l.jsonl")
    target = item(parse_checklist(before, name), text)
    ledger.append(checklist=name, item_id=target.id, item_text=target.text, kind="sign", reason="done")
    return Board.build([parse_checklist(after, name)], ledger.records()), target


def states_by_text(board):
    found = {}
    for state in board.states.values():
        found.setdefault(state.item.text, []).append(state)
    return found


def test_an_identical_item_added_above_a_signed_one_does_not_inherit_its_sign_off(tmp_path):
    before = "## Launch day\n- [ ] Open the gates\n- [ ] Flush caches\n- [ ] Tell support\n"
    after = "## Launch day\n- [ ] Open the gates\n- [ ] Flush caches\n- [ ] Flush caches\n- [ ] Tell support\n"
    board, _ = signed_board(tmp_path, before, after, "Flush caches")
    twins = states_by_text(board)["Flush caches"]
    assert [s.status for s in twins] == ["open", "open"]  # neither is silently signed
    assert all(len(s.claims) == 1 and "Flush caches" in s.claims[0] for s in twins)
    assert board.progress("launch-day") == (0, 4) and len(board.ambiguous) == 1 and not board.orphans
    with pytest.raises(SignoffRefused, match="identical twin"):
        prepare(Request("launch.md", twins[0].item, "sign"), None, NOW)


def test_a_twin_added_elsewhere_leaves_a_signed_twin_where_it_was(tmp_path):
    before = "## Checks\n- [ ] Ping EU\n- [ ] Restart\n- [ ] Ping US\n- [ ] Restart\n"
    after = "## Checks\n- [ ] Restart\n- [ ] Ping EU\n- [ ] Restart\n- [ ] Ping US\n- [ ] Restart\n- [ ] Ping ASIA\n"
    ledger = Ledger(tmp_path / "l.jsonl")
    second = [i for i in parse_checklist(before, "c.md").items if i.text == "Restart"][1]
    assert second.id.endswith("restart@ping-us")  # told apart by the item above it, not by its rank
    ledger.append(checklist="c.md", item_id=second.id, item_text="Restart", kind="sign")
    board = Board.build([parse_checklist(after, "c.md")], ledger.records())
    restarts = states_by_text(board)["Restart"]
    assert [s.status for s in restarts] == ["open", "open", "signed"]
    assert not restarts[2].changed_since_signed and not board.ambiguous


def test_explicit_ids_survive_rewording_moving_and_twins(tmp_path):
    before = "## Pre-launch\n- [ ] Warm the CDN <!-- id: cdn-warm -->\n"
    after = ("## Launch day\n- [ ] Warm the CDN <!-- id: cdn-eu -->\n"
             "## Pre-launch\n- [ ] Warm up the whole CDN\n  <!-- id: cdn-warm -->\n")
    board, target = signed_board(tmp_path, before, after, "Warm the CDN")
    assert target.id == "id:cdn-warm"
    state = board.states[("launch.md", "id:cdn-warm")]
    assert state.status == "signed" and state.item.text == "Warm up the whole CDN" and state.changed_since_signed
    assert state.changes() == "signed as “Warm the CDN”"
    assert board.states[("launch.md", "id:cdn-eu")].status == "open"
    twice = parse_checklist("- [ ] a <!-- id: x -->\n- [ ] b <!-- id: x -->\n", "t.md")
    assert all(i.ambiguous for i in twice.items) and "the id 'x' is given to" in twice.problems[0]


def test_a_reworded_item_keeps_its_record_shown_as_changed_with_the_old_text(tmp_path):
    before = "## Launch day\n- [ ] Run the smoke tests against prod\n- [ ] Rotate the on-call pager\n"
    after = "## Launch day\n- [ ] Run smoke tests against production\n- [ ] Rotate the on-call pager\n"
    board, target = signed_board(tmp_path, before, after, "Run the smoke tests against prod")
    state = states_by_text(board)["Run smoke tests against production"][0]
    assert state.status == "signed" and state.changed_since_signed and state.signed_id == target.id
    assert "signed as “Run the smoke tests against prod”" in state.changes()
    assert board.progress("launch-day") == (1, 2) and not board.orphans  # progress did not drop
    markdown = report_markdown(board, "t")
    assert "changed since signed" in markdown


def test_a_renamed_heading_keeps_the_record_and_says_where_it_was_signed(tmp_path):
    before = "# Shop\n## Go-live day\n- [ ] Switch DNS to the new cluster\n"
    after = "# Shop\n## Launch day (cutover)\n- [ ] Switch DNS to the new cluster\n"
    board, target = signed_board(tmp_path, before, after, "Switch DNS to the new cluster")
    state = next(iter(board.states.values()))
    assert state.item.id != target.id and state.status == "signed" and state.changed_since_signed
    assert f"signed under id {target.id}" in state.changes()


def test_an_item_reworded_beyond_recognition_is_an_orphan_not_a_wrong_match(tmp_path):
    before = "## Launch day\n- [ ] Email the press list\n- [ ] Page the DBA\n"
    after = "## Launch day\n- [ ] Post on the status page\n- [ ] Page the DBA\n"
    board, _ = signed_board(tmp_path, before, after, "Email the press list")
    assert [s.status for s in board.states.values()] == ["open", "open"]
    assert [r.item_text for r in board.orphans] == ["Email the press list"]


def test_a_record_is_not_matched_onto_an_item_someone_signed_by_its_own_id(tmp_path):
    before = "## Day\n- [ ] Check the EU replicas\n- [ ] Check the US replicas\n"
    after = "## Day\n- [ ] Check the US replicas\n"
    ledger = Ledger(tmp_path / "l.jsonl")
    eu, us = parse_checklist(before, "d.md").items
    ledger.append(checklist="d.md", item_id=us.id, item_text=us.text, kind="sign", reason="us ok")
    ledger.append(checklist="d.md", item_id=eu.id, item_text=eu.text, kind="sign", reason="eu ok")
    board = Board.build([parse_checklist(after, "d.md")], ledger.records())
    state = board.states[("d.md", us.id)]
    assert state.note == "us ok" and not state.changed_since_signed
    assert [r.reason for r in board.orphans] == ["eu ok"]


def test_files_with_one_name_in_two_folders_stay_apart(tmp_path):
    from launchdeck.checklists.signing import load_checklists
    from launchdeck.core.config import parse_config

    for team, extra in (("teamA", ""), ("teamB", "- [ ] Warm caches\n")):
        (tmp_path / team).mkdir()
        (tmp_path / team / "launch.md").write_text(f"## Launch day\n- [ ] Deploy\n{extra}")
    config = parse_config('[checklists]\nfiles = ["teamA/launch.md", "./teamB/../teamB/launch.md"]\n',
                          str(tmp_path / "launchdeck.toml"), {})
    checklists = load_checklists(config)
    assert [c.key for c in checklists] == ["teamA/launch.md", "teamB/launch.md"]
    deploy = checklists[0].items[0]
    ledger = Ledger(tmp_path / "l.jsonl")
    ledger.append(checklist="teamA/launch.md", item_id=deploy.id, item_text="Deploy", kind="sign")
    ledger.append(checklist="launch.md", item_id=deploy.id, item_text="Deploy", kind="waive", reason="old key")
    board = Board.build(checklists, ledger.records())
    assert len(board.states) == 3 and board.progress("launch-day") == (1, 3)
    assert board.states[("teamA/launch.md", deploy.id)].status == "signed"
    assert board.states[("teamB/launch.md", deploy.id)].status == "open"
    # the old key (base name only) cannot say which team: both items show the claim, neither is waived
    assert len(board.ambiguous) == 1 and board.states[("teamB/launch.md", deploy.id)].claims
    # with one file of that name, an old record is read as that file's
    single = Board.build(checklists[1:], [ledger.records()[1]])
    assert single.states[("teamB/launch.md", deploy.id)].status == "waived"
