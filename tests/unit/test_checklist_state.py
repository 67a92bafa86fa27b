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
