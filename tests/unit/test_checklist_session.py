"""The session as the engine drives it: only verified records reach the board, only new lines are
verified after the first read, a repaired ledger rebuilds the board, torn tails set aside and
checklist files edited or deleted under a running view are told."""

import os
from datetime import datetime, timezone

import pytest

from launchdeck.audit.ledger import Ledger, Operator
from launchdeck.checklists import ledger_reader
from launchdeck.checklists.ledger_reader import VerifiedReader
from launchdeck.checklists.parser import load_checklist
from launchdeck.checklists.session import ChecklistSession

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)
TEXT = """# Launch
## Pre-launch
- [ ] Security review done
- [ ] Backups verified
## Launch day
- [ ] Deploy to production
"""
MALLORY = Operator("mallory", 666, "evil", None)


def item_id(session, text):
    return next(s.item.id for s in session.board.states.values() if s.item.text == text)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "launch.md").write_text(TEXT)
    return tmp_path / "launch.md", tmp_path / "signoff.jsonl"


def make_session(files, watch=True):
    checklist_path, ledger_path = files
    checklist = load_checklist(checklist_path, key="launch.md")
    loader = (lambda old: load_checklist(checklist_path, key=old.key)) if watch else None
    return ChecklistSession([checklist], ledger_path, loader=loader)


def step(session, read):
    """What the engine does: read on the pool (here: inline), apply on its loop."""
    poll = read()
    keys, _, messages = session.apply(poll, NOW)
    return poll, keys, messages


def sign(ledger, session, text, kind="sign", reason=None):
    return ledger.append(checklist="launch.md", item_id=item_id(session, text), item_text=text, kind=kind,
                         reason=reason)


def test_the_chain_is_checked_whole_once_then_only_the_lines_appended_since(files, monkeypatch):
    _, ledger_path = files
    session = make_session(files)
    writer = Ledger(ledger_path)
    for n in range(300):
        writer.append(checklist="launch.md", item_id="x", item_text="x", kind="note", reason=f"note {n}")
    scanned = []
    real_scan = ledger_reader.scan
    monkeypatch.setattr(ledger_reader, "scan", lambda data, **kw: scanned.append(len(data)) or real_scan(data, **kw))
    step(session, session.open)
    assert scanned == [ledger_path.stat().st_size]  # the whole file once
    scanned.clear()
    for _ in range(5):
        step(session, session.poll)
    assert scanned == []  # nothing new: nothing verified again
    record = sign(writer, session, "Deploy to production")
    _, keys, _ = step(session, session.poll)
    line = ledger_path.read_bytes().split(b"\n")[-2]
    assert scanned == [len(line) + 1] and record.seq == 301  # only the new line, chained onto seq 300
    assert session.board.states[keys[0]].status == "signed" and session.integrity_problem() == ""


def test_an_edited_signer_in_the_middle_is_not_shown_as_signed_and_the_line_is_named(files):
    _, ledger_path = files
    session = make_session(files)
    writer = Ledger(ledger_path)
    for text in ("Security review done", "Backups verified", "Deploy to production"):
        sign(writer, session, text)
    lines = ledger_path.read_bytes().split(b"\n")
    login = Operator.current().login.encode()
    lines[1] = lines[1].replace(b'"login":"' + login + b'"', b'"login":"mallory"')
    ledger_path.write_bytes(b"\n".join(lines))
    step(session, session.open)
    states = {s.item.text: s for s in session.board.states.values()}
    assert states["Security review done"].status == "signed"
    assert states["Backups verified"].status == "open" and states["Deploy to production"].status == "open"
    assert all("mallory" not in (s.by or "") for s in states.values())
    problem = session.integrity_problem()
    assert "INTEGRITY PROBLEM at line 2 (edited)" in problem and f"launchdeck signoff repair {ledger_path}" in problem
    assert "Only the 1 records before it count; 2 line(s)" in problem
    with ledger_path.open("ab") as raw:  # lines appended past a broken chain stay unverified
        raw.write(lines[2] + b"\n")
    step(session, session.poll)
    assert "3 line(s) from line 2" in session.integrity_problem()
    assert states["Deploy to production"].status == "open"


def test_after_a_repair_the_board_is_rebuilt_not_added_to(files):
    _, ledger_path = files
    session = make_session(files)
    writer = Ledger(ledger_path, operator=MALLORY)
    sign(writer, session, "Security review done", kind="note", reason="pen test booked")
    sign(writer, session, "Backups verified")
    step(session, session.open)
    review = item_id(session, "Security review done")
    assert session.board.states[("launch.md", review)].notes == ("pen test booked",)
    with ledger_path.open("ab") as raw:
        raw.write(b'{"seq": 3}\n')
    step(session, session.poll)
    assert "line 3 (malformed)" in session.integrity_problem()
    generation = session.generation
    Ledger(ledger_path).repair()
    poll, keys, messages = step(session, session.poll)
    assert poll.read.restarted and [r.seq for r in poll.read.records] == [1, 2, 3]
    assert session.generation == generation + 1 and len(keys) == 3
    assert session.board.states[("launch.md", review)].notes == ("pen test booked",)  # once, not twice
    assert session.integrity_problem() == ""
    assert [s for s, _, text in messages if "repair: 1 line(s) from line 3" in text] == ["warning"]
    assert any("repair: 1 line(s)" in note for note in session.notes)


def test_a_torn_tail_set_aside_while_running_is_told_with_the_ledgers_own_words(files):
    _, ledger_path = files
    session = make_session(files)
    writer = Ledger(ledger_path)
    sign(writer, session, "Security review done")
    step(session, session.open)
    with ledger_path.open("ab") as raw:
        raw.write(b'{"seq": 2, "time": "2026-\n')  # a crash mid-line, then a newline from somewhere
    step(session, session.poll)
    assert "the last line is not JSON" in session.torn_tail() and session.integrity_problem() == ""
    other = Ledger(ledger_path)  # another terminal signs: its append sets the tail aside
    sign(other, session, "Deploy to production")
    _, _, messages = step(session, session.poll)
    assert [text for _, _, text in messages] == [str(other.last_warning)]
    assert session.notes == [str(other.last_warning)] and session.torn_tail() == ""
    deploy = item_id(session, "Deploy to production")
    assert session.board.states[("launch.md", deploy)].status == "signed"


def test_a_checklist_edited_on_disk_is_reloaded_and_the_signatures_placed_again(files):
    checklist_path, ledger_path = files
    session = make_session(files)
    sign(Ledger(ledger_path), session, "Deploy to production")
    step(session, session.open)
    checklist_path.write_text(TEXT + "- [ ] Run smoke tests\n")
    os.utime(checklist_path, ns=(1, 1))  # an edit within the same mtime tick is seen too: size and mtime
    _, _, messages = step(session, session.poll)
    assert messages == [("information", "checklist", "launch.md changed on disk: reloaded")]
    texts = {s.item.text: s.status for s in session.board.states.values()}
    assert texts == {"Security review done": "open", "Backups verified": "open", "Deploy to production": "signed",
                     "Run smoke tests": "open"}
    assert step(session, session.poll)[2] == []  # told once


def test_a_checklist_deleted_on_disk_keeps_the_last_version_and_says_so(files):
    checklist_path, _ = files
    session = make_session(files)
    step(session, session.open)
    board = session.board
    checklist_path.unlink()
    _, _, messages = step(session, session.poll)
    assert messages == [("warning", "checklist", "launch.md is gone: showing the last version read")]
    assert session.board is board and len(board.states) == 3
    assert list(session.gone) == ["launch.md"]
    checklist_path.write_text(TEXT)
    _, _, messages = step(session, session.poll)
    assert messages == [("information", "checklist", "launch.md changed on disk: reloaded")] and session.gone == {}


def test_an_unreadable_edit_keeps_the_last_version(files):
    checklist_path, _ = files
    session = make_session(files)
    step(session, session.open)
    checklist_path.write_bytes(b"# Launch\n- [ ] \xff\xfe broken\n")
    _, _, messages = step(session, session.poll)
    assert len(messages) == 1 and "changed on disk but cannot be read" in messages[0][2]
    assert "not UTF-8" in messages[0][2] and len(session.board.states) == 3


def test_the_reader_reads_only_whole_lines_and_starts_over_on_a_new_file(tmp_path):
    path = tmp_path / "l.jsonl"
    reader = VerifiedReader(path)
    assert reader.read().records == [] and not reader.read().restarted
    writer = Ledger(path)
    first = writer.append(checklist="a", item_id="x", item_text="x", kind="note", reason="1")
    data = path.read_bytes()
    path.write_bytes(data[:-10])  # a line still being written
    assert reader.read().records == []
    path.write_bytes(data)
    assert reader.read().records == [first]
    path.unlink()
    gone = reader.read()
    assert gone.restarted and gone.gone
    again = Ledger(path).append(checklist="a", item_id="y", item_text="y", kind="note", reason="2")
    fresh = reader.read()
    assert fresh.records == [again] and not fresh.restarted  # read from its start: nothing to rebuild over
