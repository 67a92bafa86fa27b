"""The sign-off ledger: records and their hash chain, torn tails set aside, tampering named by line,
and a full disk (a real EFBIG in a child process) reported without anything shown as signed."""

import hashlib
import json
import os
import pwd
import random
import re
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from launchdeck.audit import ledger as ledger_module
from launchdeck.audit.ledger import (
    GENESIS,
    KINDS,
    Ledger,
    LedgerError,
    Operator,
    Record,
    canonical_bytes,
    verify,
)

T0 = datetime(2026, 3, 14, 9, 26, 53, 589793, tzinfo=timezone.utc)
ALICE = Operator("alice", 1001, "deck-1", "203.0.113.7")


class StepClock:
    """Each call is one millisecond later: times are predictable and distinct."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def sign(ledger: Ledger, item: str, **extra) -> Record:
    return ledger.append(checklist="launch.md", item_id=item, item_text=f"Item {item}", kind="sign", **extra)


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


# -- records ----------------------------------------------------------------------------------------

def test_records_carry_every_field_their_hash_and_the_previous_hash(tmp_path):
    path = tmp_path / "launch-signoff.jsonl"
    ledger = Ledger(path, clock=StepClock(), operator=ALICE)
    first = ledger.append(checklist="launch.md", item_id="pre/backups", item_text="Backups fresh", kind="sign",
                          evidence={"probe": "backups", "age_hours": 3.5})
    second = ledger.append(checklist="launch.md", item_id="pre/review", item_text="Security review", kind="waive",
                           reason="vendor sign-off by mail")
    third = ledger.append(checklist="launch.md", item_id="pre/backups", item_text="Backups fresh", kind="unsign",
                          reason="restore test failed")

    assert (first.seq, second.seq, third.seq) == (1, 2, 3)
    assert first.time == "2026-03-14T09:26:53.590793Z" and second.time == "2026-03-14T09:26:53.591793Z"
    assert first.operator == {"login": "alice", "uid": 1001, "hostname": "deck-1", "ssh_client": "203.0.113.7"}
    assert (first.kind, first.reason, first.evidence) == ("sign", None, {"probe": "backups", "age_hours": 3.5})
    assert (second.kind, second.reason, second.evidence) == ("waive", "vendor sign-off by mail", None)
    assert first.prev_hash == GENESIS and second.prev_hash == first.hash and third.prev_hash == second.hash
    for record in (first, second, third):
        body = {k: v for k, v in record.to_json().items() if k != "hash"}
        assert record.hash == hashlib.sha256(canonical_bytes(body)).hexdigest()
    # on disk: one canonical JSON object a line, exactly the records returned
    assert path.read_bytes() == b"".join(canonical_bytes(r.to_json()) + b"\n" for r in (first, second, third))
    assert [json.loads(line)["seq"] for line in lines_of(path)] == [1, 2, 3]
    assert ledger.records() == [first, second, third] == Ledger(path).records()
    assert verify(path).ok and verify(path).records == 3


def test_canonical_form_is_sorted_compact_utf8():
    assert canonical_bytes({"b": 1, "a": {"z": None, "y": [1, 2]}, "é": "✓ ok"}) == \
        '{"a":{"y":[1,2],"z":null},"b":1,"é":"✓ ok"}'.encode("utf-8")
    assert canonical_bytes({"a": "line\nbreak"}) == b'{"a":"line\\nbreak"}'  # never a raw newline in a line


def test_record_from_json_is_strict(tmp_path):
    record = sign(Ledger(tmp_path / "l.jsonl", operator=ALICE), "x")
    assert Record.from_json(record.to_json()) == record
    for broken in ({k: v for k, v in record.to_json().items() if k != "reason"},
                   record.to_json() | {"extra": 1},
                   record.to_json() | {"seq": "1"},
                   record.to_json() | {"seq": True},
                   record.to_json() | {"kind": "approve"},
                   record.to_json() | {"hash": "XYZ"},
                   record.to_json() | {"evidence": [1]},
                   ["not", "an", "object"]):
        with pytest.raises(ValueError):
            Record.from_json(broken)


def test_a_record_cannot_be_changed_through_what_append_returned(tmp_path):
    ledger = Ledger(tmp_path / "l.jsonl", operator=ALICE)
    evidence = {"probe": "api", "values": [1, 2]}
    record = sign(ledger, "x", evidence=evidence)
    evidence["values"].append(3)
    record.to_json()["evidence"]["probe"] = "changed"
    assert record.evidence == {"probe": "api", "values": [1, 2]} == ledger.records()[0].evidence
    with pytest.raises(AttributeError):
        record.seq = 7  # frozen


@pytest.mark.parametrize("kind,reason", [("unsign", None), ("waive", None), ("waive", "   "), ("unsign", "")])
def test_unsign_and_waive_need_a_reason_and_leave_the_file_untouched(tmp_path, kind, reason):
    path = tmp_path / "l.jsonl"
    ledger = Ledger(path, operator=ALICE)
    with pytest.raises(ValueError, match="needs a reason"):
        ledger.append(checklist="launch.md", item_id="x", item_text="X", kind=kind, reason=reason)
    assert not path.exists()
    sign(ledger, "x")
    before, stat = path.read_bytes(), path.stat()
    with pytest.raises(ValueError, match="needs a reason"):
        ledger.append(checklist="launch.md", item_id="x", item_text="X", kind=kind, reason=reason)
    assert path.read_bytes() == before and path.stat().st_mtime_ns == stat.st_mtime_ns


def test_bad_kinds_and_unrecordable_values_are_refused_before_the_file_is_touched(tmp_path):
    path = tmp_path / "l.jsonl"
    ledger = Ledger(path, operator=ALICE)
    with pytest.raises(ValueError, match="kind must be one of"):
        ledger.append(checklist="c", item_id="x", item_text="X", kind="approve")
    with pytest.raises(ValueError, match="JSON"):
        sign(ledger, "x", evidence={"value": float("nan")})
    with pytest.raises(ValueError, match="JSON"):
        sign(ledger, "x", evidence={"when": datetime.now()})
    with pytest.raises(ValueError, match="wrong type"):
        ledger.append(checklist="c", item_id=7, item_text="X", kind="sign")
    assert not path.exists()
    assert set(KINDS) == {"sign", "unsign", "waive", "note", "action", "recovery", "verify"}


def test_operator_comes_from_the_environment_and_the_process():
    login = Operator.current({}).login
    try:
        expected_login = os.getlogin()
    except OSError:
        expected_login = pwd.getpwuid(os.getuid()).pw_name
    assert login == expected_login
    over_ssh = Operator.current({"SSH_CONNECTION": "198.51.100.23 52144 10.0.0.5 22", "SSH_CLIENT": "192.0.2.1 1 22"})
    assert over_ssh == Operator(expected_login, os.getuid(), socket.gethostname(), "198.51.100.23")
    assert Operator.current({"SSH_CLIENT": "2001:db8::7 52144 22"}).ssh_client == "2001:db8::7"
    assert Operator.current({"SSH_CONNECTION": "  "}).ssh_client is None
    assert over_ssh.to_json() == {"login": expected_login, "uid": os.getuid(), "hostname": socket.gethostname(),
                                  "ssh_client": "198.51.100.23"}


def test_the_default_clock_writes_utc_with_microseconds_and_z(tmp_path):
    record = sign(Ledger(tmp_path / "l.jsonl"), "x")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", record.time)
    written = datetime.strptime(record.time, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    assert abs(written - datetime.now(timezone.utc)) < timedelta(seconds=5)


def test_a_new_ledger_file_is_created_0644(tmp_path):
    path = tmp_path / "l.jsonl"
    old = os.umask(0o022)
    try:
        sign(Ledger(path), "x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


# -- read_new -------------------------------------------------------------------------------------

def test_read_new_sees_another_writers_records_once_and_never_a_partial_line(tmp_path):
    path = tmp_path / "l.jsonl"
    reader, writer = Ledger(path, operator=ALICE), Ledger(path, operator=Operator("bob", 1002, "deck-2", None))
    assert reader.read_new() == []  # no file yet
    a, b = sign(writer, "a"), sign(writer, "b")
    assert reader.read_new() == [a, b]
    assert reader.read_new() == []
    c = sign(writer, "c")
    assert reader.read_new() == [c] and c.operator["login"] == "bob"
    mine = sign(reader, "d")
    assert reader.read_new() == [mine]  # its own appends come back the same way
    line = canonical_bytes({"seq": 5, "half": "a line being writ"})
    with open(path, "ab") as file:
        file.write(line[:20])
    assert reader.read_new() == []  # the partial line is not consumed...
    with open(path, "ab") as file:
        file.write(line[20:])
    assert reader.read_new() == []  # ...and once whole it is not a record either (verify reports it)
    fresh = Ledger(path)
    assert [r.seq for r in fresh.read_new()] == [1, 2, 3, 4]


def test_read_new_starts_over_when_the_file_is_replaced(tmp_path):
    path = tmp_path / "l.jsonl"
    reader = Ledger(path)
    sign(Ledger(path), "a")
    sign(Ledger(path), "b")
    assert len(reader.read_new()) == 2
    path.unlink()
    first = sign(Ledger(path), "c")
    assert reader.read_new() == [first]


# -- torn tails -----------------------------------------------------------------------------------

def make_torn(path: Path, records: int, torn: bytes, clock=None) -> list[Record]:
    ledger = Ledger(path, clock=clock or StepClock(), operator=ALICE)
    written = [sign(ledger, f"item-{n}") for n in range(records)]
    with open(path, "ab") as file:
        file.write(torn)
    return written


def test_recover_sets_a_torn_tail_aside_and_the_chain_continues(tmp_path):
    path = tmp_path / "launch-signoff.jsonl"
    half = canonical_bytes({"seq": 4, "kind": "sign", "item_id": "deploy", "text": "x" * 80})[:57]
    written = make_torn(path, 3, half)
    good_size = path.stat().st_size - len(half)
    result = verify(path)
    assert (result.ok, result.problem, result.first_bad_line, result.records) == (False, "torn", 4, 3)
    reader = Ledger(path)
    assert [r.seq for r in reader.read_new()] == [1, 2, 3]

    ledger = Ledger(path, clock=StepClock(), operator=ALICE)
    warning = ledger.recover()
    assert warning is not None
    assert warning.side_file.name.startswith("launch-signoff.jsonl.torn-") and warning.side_file.parent == tmp_path
    assert warning.side_file.read_bytes() == half and warning.torn_bytes == len(half)
    assert warning.side_file.name in str(warning) and f"{len(half)} bytes" in str(warning)
    record = warning.record
    assert (record.seq, record.kind, record.prev_hash) == (4, "recovery", written[-1].hash)
    assert warning.side_file.name in record.reason and str(len(half)) in record.reason
    assert record.evidence == {"side_file": warning.side_file.name, "bytes": len(half), "offset": good_size,
                               "sha256": hashlib.sha256(half).hexdigest()}
    assert path.read_bytes()[:good_size] == b"".join(canonical_bytes(r.to_json()) + b"\n" for r in written)
    after = sign(ledger, "deploy")
    assert (after.seq, after.prev_hash) == (5, record.hash)
    assert verify(path).ok and verify(path).records == 5
    assert [r.seq for r in reader.read_new()] == [4, 5]
    assert ledger.recover() is None and Ledger(path).recover() is None


def test_append_sets_a_torn_tail_aside_itself_under_its_lock(tmp_path):
    path = tmp_path / "l.jsonl"
    written = make_torn(path, 2, b'{"seq":3,"chec')
    ledger = Ledger(path, operator=ALICE)
    record = sign(ledger, "after-crash")
    recovery, = [r for r in ledger.records() if r.kind == "recovery"]
    assert [r.seq for r in ledger.records()] == [1, 2, 3, 4]
    assert recovery.prev_hash == written[-1].hash and record.prev_hash == recovery.hash
    assert ledger.last_warning is not None and ledger.last_warning.side_file.read_bytes() == b'{"seq":3,"chec'
    assert verify(path).ok


def test_a_torn_first_line_and_a_newline_terminated_garbage_line_are_set_aside(tmp_path):
    only_torn = tmp_path / "first.jsonl"
    only_torn.write_bytes(b'{"seq":1,"ti')
    assert verify(only_torn).problem == "torn" and verify(only_torn).first_bad_line == 1
    warning = Ledger(only_torn).recover()
    assert warning.record.seq == 1 and warning.record.prev_hash == GENESIS and verify(only_torn).ok

    garbage = tmp_path / "garbage.jsonl"
    make_torn(garbage, 2, b"\x00\x00\x00\x00ime\":\"2026\"}\n")  # e.g. unwritten blocks after a power cut
    result = verify(garbage)
    assert (result.problem, result.first_bad_line) == ("torn", 3)
    warning = Ledger(garbage).recover()
    assert warning.side_file.read_bytes() == b"\x00\x00\x00\x00ime\":\"2026\"}\n" and verify(garbage).ok


def test_side_files_never_collide_even_with_a_frozen_clock(tmp_path):
    path = tmp_path / "l.jsonl"
    frozen = lambda: T0  # noqa: E731
    make_torn(path, 1, b"{", clock=frozen)
    first = Ledger(path, clock=frozen).recover()
    with open(path, "ab") as file:
        file.write(b"{")
    second = Ledger(path, clock=frozen).recover()
    assert first.side_file != second.side_file and first.side_file.exists() and second.side_file.exists()
    assert verify(path).ok


def test_recover_adopts_a_side_file_left_by_a_recovery_that_died_after_the_cut(tmp_path):
    path = tmp_path / "l.jsonl"
    make_torn(path, 2, b"")
    orphan = tmp_path / "l.jsonl.torn-20260314T092653.000000Z"
    orphan.write_bytes(b'{"seq":3,"half')  # copied out and cut off, but the recovery record never written
    warning = Ledger(path).recover()
    assert warning.side_file == orphan and "interrupted" in str(warning)
    assert warning.record.seq == 3
    assert warning.record.evidence["sha256"] == hashlib.sha256(b'{"seq":3,"half').hexdigest()
    assert Ledger(path).recover() is None and verify(path).ok

    # a recovery that died before the cut: the torn tail is still there, and an orphan copy of it
    with open(path, "ab") as file:
        file.write(b'{"seq":4,"ha')
    orphan = tmp_path / "l.jsonl.torn-20260314T092654.000000Z"
    orphan.write_bytes(b'{"seq":4,"ha')
    warning = Ledger(path).recover()  # one call sets the tail aside and adopts the orphan
    kinds = [(r.kind, r.evidence["side_file"]) for r in Ledger(path).records() if r.kind == "recovery"]
    assert kinds[-2:] == [("recovery", warning.side_file.name), ("recovery", orphan.name)]
    assert Ledger(path).recover() is None and verify(path).ok


def test_recover_on_a_missing_or_clean_ledger_does_nothing(tmp_path):
    assert Ledger(tmp_path / "none.jsonl").recover() is None and not (tmp_path / "none.jsonl").exists()
    path = tmp_path / "l.jsonl"
    make_torn(path, 3, b"")
    before = path.read_bytes()
    assert Ledger(path).recover() is None and path.read_bytes() == before


def test_append_refuses_to_chain_onto_an_edited_or_malformed_last_record(tmp_path):
    path = tmp_path / "l.jsonl"
    make_torn(path, 2, b"")
    lines = lines_of(path)
    path.write_bytes(lines[0] + b"\n" + lines[1].replace(b"Item item-1", b"Item item-X") + b"\n")
    with pytest.raises(LedgerError, match="edited"):
        sign(Ledger(path), "next")
    path.write_bytes(lines[0] + b"\n" + b'{"seq": 2}\n')
    with pytest.raises(LedgerError, match="missing"):
        sign(Ledger(path), "next")
    assert len(lines_of(path)) == 2


def test_an_append_verifies_the_whole_chain_once_then_only_what_was_appended_since(tmp_path, monkeypatch):
    """A fresh Ledger (a CLI sign-off, a TUI just opened) reads the file once to check the chain it
    will extend; after that each append reads its own last line and other writers' new lines only."""
    path = tmp_path / "l.jsonl"
    ledger = Ledger(path, operator=ALICE)
    with monkeypatch.context() as patch:
        patch.setattr(ledger_module.os, "fsync", lambda fd: None)
        for n in range(3000):
            sign(ledger, f"item-{n}")
    read = []
    real_pread = os.pread
    monkeypatch.setattr(ledger_module.os, "pread", lambda fd, n, at: read.append(n) or real_pread(fd, n, at))
    other = Ledger(path, operator=ALICE)  # knows nothing of the file: checks it all, once
    assert sign(other, "last").seq == 3001
    assert path.stat().st_size > 500_000 and path.stat().st_size - 1000 < sum(read) < path.stat().st_size
    read.clear()
    assert sign(other, "again").seq == 3002
    for n in range(5):  # another terminal's records in between: only those are read
        sign(ledger, f"theirs-{n}")
    assert sign(other, "after theirs").seq == 3008
    assert sum(read) < 8_000 and verify(path).ok and verify(path).records == 3008


# -- OS failures ----------------------------------------------------------------------------------

def test_os_failures_become_ledger_errors_naming_the_file(tmp_path):
    missing_dir = tmp_path / "nowhere" / "launch-signoff.jsonl"
    with pytest.raises(LedgerError, match=r"launch-signoff\.jsonl: not signed: No such file or directory"):
        sign(Ledger(missing_dir), "x")
    directory = tmp_path / "a-directory.jsonl"
    directory.mkdir()
    with pytest.raises(LedgerError, match="a-directory.jsonl: not signed: Is a directory") as raised:
        sign(Ledger(directory), "x")
    assert raised.value.errno == 21


def test_a_short_write_then_enospc_is_not_signed_and_the_torn_prefix_is_set_aside(tmp_path, monkeypatch):
    path = tmp_path / "launch-signoff.jsonl"
    written = make_torn(path, 2, b"")
    real_write = os.write
    ledger_fd = []

    def disk_fills_up(fd, data):
        if not ledger_fd and bytes(data[:12]) == b'{"checklist"':
            ledger_fd.append(fd)
            return real_write(fd, bytes(data[:30]))  # the device had room for 30 bytes
        if ledger_fd == [fd]:
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(ledger_module.os, "write", disk_fills_up)
    ledger = Ledger(path, operator=ALICE)
    with pytest.raises(LedgerError) as raised:
        sign(ledger, "full")
    assert str(raised.value) == f"{path}: not signed: No space left on device" and raised.value.errno == 28
    monkeypatch.setattr(ledger_module.os, "write", real_write)
    assert "full" not in {r.item_id for r in ledger.records()} and len(ledger.records()) == 2
    assert verify(path).problem == "torn"
    again = sign(ledger, "full")
    recovery = ledger.records()[2]
    assert recovery.kind == "recovery" and recovery.evidence["bytes"] == 30 and recovery.prev_hash == written[-1].hash
    assert again.seq == 4 and verify(path).ok


def test_a_short_write_whose_rest_lands_is_a_whole_record(tmp_path, monkeypatch):
    path = tmp_path / "l.jsonl"
    make_torn(path, 1, b"")
    real_write = os.write
    chunks = []

    def half_at_a_time(fd, data):
        chunks.append(len(data))
        return real_write(fd, bytes(data[: max(1, len(data) // 2)]))

    monkeypatch.setattr(ledger_module.os, "write", half_at_a_time)
    record = sign(Ledger(path), "slow")
    assert len(chunks) > 2 and Ledger(path).records()[-1] == record and verify(path).ok


CHILD_APPEND = """
import resource, signal, sys
from pathlib import Path
from launchdeck.audit.ledger import Ledger, LedgerError

path, limit = Path(sys.argv[1]), int(sys.argv[2])
ledger = Ledger(path)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    ledger.append(checklist="launch.md", item_id="launch/deploy", item_text="Deploy", kind="sign")
except LedgerError as error:
    print(error)
    sys.exit(3)
print("signed")
"""


@pytest.mark.parametrize("room", [0, 57])
def test_a_full_disk_in_a_child_is_a_ledger_error_and_recovery_heals_the_ledger(tmp_path, room):
    path = tmp_path / "launch-signoff.jsonl"
    written = make_torn(path, 5, b"")
    size = path.stat().st_size
    child = subprocess.run([sys.executable, "-c", CHILD_APPEND, str(path), str(size + room)],
                           capture_output=True, text=True, timeout=30)
    assert child.returncode == 3, child.stdout + child.stderr
    assert "launch-signoff.jsonl" in child.stdout and "not signed: File too large" in child.stdout
    assert path.stat().st_size == size + room  # exactly what the limit let through
    assert [r.item_id for r in Ledger(path).records()] == [r.item_id for r in written]
    result = verify(path)
    if room:
        assert (result.problem, result.first_bad_line, result.records) == ("torn", 6, 5)
        warning = Ledger(path).recover()
        assert warning.torn_bytes == room and warning.side_file.stat().st_size == room
    else:
        assert result.ok
        assert Ledger(path).recover() is None
    assert verify(path).ok
    assert "launch/deploy" not in {r.item_id for r in Ledger(path).records()}


# -- verify on tampered copies of a 10,000-record ledger ------------------------------------------

@pytest.fixture(scope="module")
def big_ledger(tmp_path_factory) -> bytes:
    """10,000 records written by the real append (fsync skipped: only the bytes matter here)."""
    path = tmp_path_factory.mktemp("big") / "big.jsonl"
    ledger = Ledger(path, clock=StepClock(), operator=ALICE)
    kinds = ["sign", "note", "sign", "waive", "unsign", "action"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ledger_module.os, "fsync", lambda fd: None)
        for n in range(10_000):
            kind = kinds[n % len(kinds)]
            ledger.append(checklist=f"phase-{n % 3}.md", item_id=f"item-{n}", item_text=f"Item número {n}",
                          kind=kind, reason=None if kind in ("sign", "action") else f"reason {n}",
                          evidence={"n": n} if n % 5 == 0 else None)
    assert verify(path).ok and verify(path).records == 10_000
    return path.read_bytes()


def tampered(tmp_path: Path, lines: list[bytes], name: str, end: bytes = b"\n") -> Path:
    path = tmp_path / f"{name}.jsonl"
    path.write_bytes(b"\n".join(lines) + end)
    return path


POSITIONS = 4


def positions(seed: int, upper: int) -> list[int]:
    """Random 0-based indexes, always including the edges."""
    rng = random.Random(seed)
    return sorted({0, upper - 1, *(rng.randrange(upper) for _ in range(POSITIONS))})


def test_verify_names_an_edited_field(big_ledger, tmp_path):
    lines = big_ledger.split(b"\n")[:-1]
    for index in positions(1, len(lines)):
        copy = list(lines)
        obj = json.loads(copy[index])
        obj["item_text"] = obj["item_text"] + " (amended)"
        copy[index] = canonical_bytes(obj)
        result = verify(tampered(tmp_path, copy, f"edit-{index}"))
        assert (result.ok, result.problem, result.first_bad_line, result.records) == (False, "edited", index + 1, index)
        assert result.detail == f"line {index + 1}: record seq {index + 1} was edited (hash mismatch)"


def test_verify_names_an_edit_whose_hash_was_recomputed_as_a_broken_chain(big_ledger, tmp_path):
    lines = big_ledger.split(b"\n")[:-1]
    for index in positions(2, len(lines) - 1):
        copy = list(lines)
        obj = json.loads(copy[index])
        obj["operator"]["login"] = "mallory"
        del obj["hash"]
        obj["hash"] = hashlib.sha256(canonical_bytes(obj)).hexdigest()
        copy[index] = canonical_bytes(obj)
        result = verify(tampered(tmp_path, copy, f"rehash-{index}"))
        assert (result.problem, result.first_bad_line) == ("chain broken", index + 2)


def test_verify_names_a_deleted_record(big_ledger, tmp_path):
    lines = big_ledger.split(b"\n")[:-1]
    for index in positions(3, len(lines) - 1):  # the very last record cut off needs an outside anchor
        copy = lines[:index] + lines[index + 1:]
        result = verify(tampered(tmp_path, copy, f"delete-{index}"))
        assert (result.problem, result.first_bad_line, result.records) == ("deleted", index + 1, index)
        assert f"seq {index + 1} missing" in result.detail
    result = verify(tampered(tmp_path, lines[:100] + lines[103:], "delete-three"))
    assert (result.problem, result.first_bad_line) == ("deleted", 101) and "seqs 101..103" in result.detail


def test_verify_names_two_swapped_records(big_ledger, tmp_path):
    lines = big_ledger.split(b"\n")[:-1]
    rng = random.Random(4)
    for index in positions(4, len(lines) - 1):
        other = index + 1 if index % 2 else rng.randrange(index + 1, len(lines))  # neighbours and far apart
        copy = list(lines)
        copy[index], copy[other] = copy[other], copy[index]
        result = verify(tampered(tmp_path, copy, f"swap-{index}"))
        assert (result.problem, result.first_bad_line, result.records) == ("reordered", index + 1, index)
        assert f"seq {index + 1} is at line {other + 1}" in result.detail


def test_verify_names_a_torn_last_line(big_ledger, tmp_path):
    lines = big_ledger.split(b"\n")[:-1]
    rng = random.Random(5)
    for cut in sorted({1, len(lines[-1]), *(rng.randrange(1, len(lines[-1])) for _ in range(POSITIONS))}):
        copy = lines[:-1] + [lines[-1][:cut]]
        result = verify(tampered(tmp_path, copy, f"torn-{cut}", end=b""))
        assert (result.problem, result.first_bad_line, result.records) == ("torn", 10_000, 9_999)
        assert "incomplete" in result.detail


def test_verify_names_a_malformed_middle_line(big_ledger, tmp_path):
    lines = big_ledger.split(b"\n")[:-1]
    rng = random.Random(6)
    garbage = [b"", b"not json", b'{"seq": 5}', b"[1,2,3]", lines[0][:-20], b"\xff\xfe{}"]
    for index in positions(6, len(lines) - 1):
        copy = list(lines)
        copy[index] = rng.choice(garbage)
        result = verify(tampered(tmp_path, copy, f"malformed-{index}"))
        assert (result.problem, result.first_bad_line, result.records) == ("malformed", index + 1, index)


@pytest.mark.parametrize("make", ["dangling link", "link to a file", "directory", "fifo"])
def test_a_ledger_path_that_is_not_a_regular_file_is_refused_at_once(tmp_path, make):
    """The class: every ledger open is bounded and never follows a link (a dangling one spun for ever)."""
    path = tmp_path / "signoff.jsonl"
    someone_else = tmp_path / "notes.txt"
    if make == "dangling link":
        path.symlink_to(tmp_path / "nowhere.jsonl")
    elif make == "link to a file":
        someone_else.write_text("a colleague's one-line file")
        path.symlink_to(someone_else)
    elif make == "directory":
        path.mkdir()
    else:
        os.mkfifo(path)
    ledger = Ledger(path)
    started = time.monotonic()
    with pytest.raises(LedgerError) as refused:
        ledger.append(checklist="launch.md", item_id="x", item_text="x", kind="sign")
    assert time.monotonic() - started < 1.0
    words = str(refused.value)
    assert str(path) in words and ("symbolic link" in words or "not a regular file" in words or "directory" in words.lower())
    for read in (ledger.records, ledger.read_new, lambda: ledger_module.verify(path)):
        with pytest.raises(LedgerError):
            read()
    if make == "link to a file":
        assert someone_else.read_text() == "a colleague's one-line file"  # untouched


# -- a broken chain: refused by appends, shown by readers, repaired by setting its tail aside --------

def broken(tmp_path: Path, how: str) -> tuple[Path, list[bytes]]:
    """Five records with line 3 spoiled `how`; the good lines as written."""
    path = tmp_path / f"{how}.jsonl"
    ledger = Ledger(path, clock=StepClock(), operator=ALICE)
    for n in range(5):
        sign(ledger, f"item-{n}")
    lines = lines_of(path)
    spoiled = list(lines)
    if how == "edited":
        spoiled[2] = spoiled[2].replace(b'"login":"alice"', b'"login":"ciso"')
    elif how == "malformed":
        spoiled[2] = b'{"seq": 3, "[/]": "\x1b[2J"}'
    elif how == "deleted":
        del spoiled[2]
    path.write_bytes(b"".join(line + b"\n" for line in spoiled))
    return path, lines


@pytest.mark.parametrize("how", ["edited", "malformed", "deleted"])
def test_an_append_refuses_a_chain_broken_before_its_last_line_and_names_the_line(tmp_path, how):
    path, _ = broken(tmp_path, how)
    before = path.read_bytes()
    for ledger in (Ledger(path), Ledger(path)):
        with pytest.raises(LedgerError) as refused:
            sign(ledger, "next")
        words = str(refused.value)
        assert f"the chain is broken at line 3 ({verify(path).problem}" in words
        assert f"launchdeck signoff repair {path}" in words and "\n" not in words
    with pytest.raises(LedgerError, match="broken at line 3"):
        Ledger(path).recover()
    assert path.read_bytes() == before


@pytest.mark.parametrize("how", ["edited", "malformed", "deleted"])
def test_repair_sets_the_tail_from_the_first_bad_line_aside_and_the_chain_continues(tmp_path, how):
    path, lines = broken(tmp_path, how)
    before = path.read_bytes()
    bad_at = len(lines[0]) + len(lines[1]) + 2
    plan = Ledger(path).repair(dry_run=True)
    assert plan.warning is None and plan.problem.first_bad_line == 3 and plan.bytes == len(before) - bad_at
    assert path.read_bytes() == before and not list(tmp_path.glob("*.set-aside-*"))

    done = Ledger(path, clock=StepClock()).repair()
    side = done.warning.side_file
    assert side.name.startswith(f"{how}.jsonl.set-aside-") and side.read_bytes() == before[bad_at:]
    record = done.warning.record
    assert (record.seq, record.kind, record.prev_hash) == (3, "recovery", json.loads(lines[1])["hash"])
    assert record.evidence == {"side_file": side.name, "bytes": len(before) - bad_at, "offset": bad_at,
                               "sha256": hashlib.sha256(before[bad_at:]).hexdigest(), "line": 3, "problem": how}
    assert path.read_bytes()[:bad_at] == before[:bad_at]  # the good lines untouched
    result = verify(path)
    assert result.ok and result.records == 3 and result.head == record.hash
    assert sign(Ledger(path), "after").seq == 4 and verify(path).ok
    assert Ledger(path).repair() is None and Ledger(path).recover() is None  # the side file is recorded


def test_repair_of_a_torn_tail_and_of_a_missing_ledger(tmp_path):
    path = tmp_path / "l.jsonl"
    make_torn(path, 2, b'{"seq":3,"ti')
    done = Ledger(path).repair()
    assert done.warning.side_file.read_bytes() == b'{"seq":3,"ti' and verify(path).ok
    with pytest.raises(LedgerError, match="no such ledger"):
        Ledger(tmp_path / "none.jsonl").repair()


def test_an_unrecorded_repair_side_file_is_adopted_like_a_torn_one(tmp_path):
    """A repair that died after its cut left a side file no record names: recover() records it."""
    path, _ = broken(tmp_path, "malformed")
    path.write_bytes(b"".join(line + b"\n" for line in lines_of(path)[:2]))
    orphan = tmp_path / "malformed.jsonl.set-aside-20260314T092654.000000Z"
    orphan.write_bytes(b"what was cut\n")
    warning = Ledger(path).recover()
    assert warning.side_file == orphan
    assert warning.record.evidence["sha256"] == hashlib.sha256(b"what was cut\n").hexdigest()
    assert verify(path).ok and Ledger(path).recover() is None


def test_integrity_gives_the_head_and_count_readers_show(tmp_path):
    from launchdeck.audit.chain import check_ledger, integrity

    missing = integrity(tmp_path / "none.jsonl")
    assert (missing.ok, missing.records, missing.head) == (True, 0, GENESIS)
    path, lines = broken(tmp_path, "edited")
    result = integrity(path)
    assert (result.ok, result.records, result.first_bad_line, result.problem) == (False, 2, 3, "edited")
    assert result.head == json.loads(lines[1])["hash"]  # the head of what still verifies
    checked = check_ledger(path)
    assert [r.seq for r in checked.records] == [1, 2]
    assert [(u.line, u.record.seq if u.record else None) for u in checked.unverified] == [(3, 3), (4, 4), (5, 5)]
    assert checked.unverified[0].record.operator["login"] == "ciso"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    assert integrity(path).head == json.loads(lines[-1])["hash"] and integrity(path).records == 5


def test_read_new_starts_over_when_a_repair_rewrote_the_tail_it_had_read(tmp_path):
    path, _ = broken(tmp_path, "malformed")
    reader = Ledger(path)
    assert [r.seq for r in reader.read_new()] == [1, 2, 4, 5]  # the raw reader: parseable lines
    Ledger(path).repair()
    writer = Ledger(path)
    for n in range(3):
        sign(writer, f"after-{n}-" + "x" * 200)  # the file grows past where the reader stopped
    again = reader.read_new()
    assert [r.seq for r in again] == [1, 2, 3, 4, 5, 6] and again[2].kind == "recovery"
