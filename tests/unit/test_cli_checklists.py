"""`checklist show`, `signoff add|list|verify` and `report` as a pipeline would run them."""

import hashlib
import json
import re
import subprocess
import sys

CHECKLIST = """# Launch
## Pre-launch
- [ ] All tests passing
- [ ] Backups fresh <!-- verify: backups.age < 26h -->
## Launch day
- [ ] Deploy to production
"""


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "launchdeck", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=60)


def test_show_sign_list_verify_report(tmp_path):
    path = tmp_path / "launch.md"
    path.write_text(CHECKLIST)
    shown = json.loads(run("checklist", "show", str(path), "--json").stdout)
    ids = {i["text"]: i["id"] for i in shown["items"]}
    assert [i["phase"] for i in shown["items"]] == ["pre-launch", "pre-launch", "launch-day"]

    ledger = tmp_path / "signoff.jsonl"
    added = run("signoff", "add", str(ledger), ids["All tests passing"], "--checklist", str(path), "--note", "CI #812")
    assert added.returncode == 0, added.stderr
    assert "sign #1" in added.stdout

    refused = run("signoff", "add", str(ledger), ids["Deploy to production"], "--checklist", str(path), "--waive")
    assert refused.returncode == 2 and "needs a reason" in refused.stderr
    unknown = run("signoff", "add", str(ledger), ids["Deploy to production"] + "x", "--checklist", str(path))
    assert unknown.returncode == 2 and "did you mean" in unknown.stderr

    # evidence with no config to judge it: refused unless overridden with a reason
    (tmp_path / "launchdeck.toml").write_text('[deck]\nname = "t"\n')
    evidence = run("signoff", "add", str(ledger), ids["Backups fresh"], "--checklist", str(path), cwd=tmp_path)
    assert evidence.returncode == 2 and "is unknown" in evidence.stderr and "override" in evidence.stderr
    forced = run("signoff", "add", str(ledger), ids["Backups fresh"], "--checklist", str(path), "--override",
                 "--reason", "checked by hand", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr

    records = json.loads(run("signoff", "list", str(ledger), "--json").stdout)
    assert [(r["seq"], r["kind"], r["item_text"]) for r in records] == [
        (1, "sign", "All tests passing"), (2, "sign", "Backups fresh")]
    assert records[1]["evidence"]["override"] == "checked by hand"
    assert run("signoff", "verify", str(ledger)).returncode == 0

    (tmp_path / "launchdeck.toml").write_text('[deck]\nname = "t"\n[checklists]\nfiles = ["launch.md"]\n'
                                              'ledger = "signoff.jsonl"\n')
    report = run("report", "--config", str(tmp_path / "launchdeck.toml"))
    assert report.returncode == 0, report.stderr
    assert "## pre-launch (2/2)" in report.stdout and "CI #812" in report.stdout

    lines = ledger.read_text().splitlines()
    lines[0] = lines[0].replace("CI #812", "CI #999")
    ledger.write_text("\n".join(lines) + "\n")
    tampered = run("signoff", "verify", str(ledger))
    assert tampered.returncode == 1 and "line 1" in tampered.stderr and "edited" in tampered.stderr


def test_unreadable_checklist_is_a_clear_error(tmp_path):
    result = run("checklist", "show", str(tmp_path / "missing.md"))
    assert result.returncode == 2 and "missing.md" in result.stderr and "Traceback" not in result.stderr


# -- people's text is data: never markup, never a control sequence ------------------------------------

HOSTILE = ["[/]", "[/x]", "[red]x[/red]", "[bold]loud", "[link=http://evil]here[/link]", "\x1b[2J",
           "\x1b]0;pwned\x07", "\x1b[31mred", "\x9b2J", "a\u202eb", "**bold** `code` <b>html</b> | pipe"]
NO_CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f\x80-\x9f]")  # the line break is the only control allowed


def assert_plain(result, *expected):
    out = result.stdout + result.stderr
    assert "Traceback" not in out, out
    assert not NO_CONTROLS.search(out), repr(out)
    for words in expected:
        assert words in result.stdout, (words, result.stdout)


def hostile_deck(tmp_path):
    """A checklist whose section, items and deck name carry markup and escape sequences."""
    items = "".join(f"- [ ] item {n} {text}\n" for n, text in enumerate(HOSTILE))
    (tmp_path / "launch.md").write_text(f"# Launch [/x]\n## Pre-launch [red]\n{items}")
    (tmp_path / "launchdeck.toml").write_text('[deck]\nname = "shop [/] \\u001b]0;title\\u0007"\n[checklists]\n'
                                              'files = ["launch.md"]\nledger = "signoff.jsonl"\n')
    shown = json.loads(run("checklist", "show", str(tmp_path / "launch.md"), "--json").stdout)
    return {i["text"]: i["id"] for i in shown["items"]}


def test_markup_and_escape_sequences_in_items_names_and_notes_are_shown_never_obeyed(tmp_path):
    ids = hostile_deck(tmp_path)
    assert len(ids) == len(HOSTILE)
    show = run("checklist", "show", str(tmp_path / "launch.md"))
    assert show.returncode == 0
    assert_plain(show, "Launch [/x] (11 items)", "[ ] item 1 [/x]", "item 2 [red]x[/red]", "item 5 ␛[2J",
                 "item 6 ␛]0;pwned␇", "item 8 \\u009b2J", "item 9 a\\u202eb")
    ledger = tmp_path / "signoff.jsonl"
    for n, (text, item_id) in enumerate(ids.items()):
        added = run("signoff", "add", str(ledger), item_id, "--checklist", str(tmp_path / "launch.md"),
                    "--note", f"note {n} {HOSTILE[-1 - n]}")
        assert added.returncode == 0, added.stderr
        assert_plain(added)
    listed = run("signoff", "list", str(ledger))
    assert listed.returncode == 0
    assert_plain(listed, "11 records, chain intact, head ", "launch.md: item 1 [/x] — note 1 a\\u202eb",
                 "note 0 **bold** `code` <b>html</b> | pipe", "note 4 ␛]0;pwned␇", "item 5 ␛[2J — note 5 ␛[2J")
    verified = run("signoff", "verify", str(ledger))
    assert verified.returncode == 0
    assert_plain(verified, "ok, 11 records, chain intact")
    report = run("report", "--config", str(tmp_path / "launchdeck.toml"))
    assert report.returncode == 0, report.stderr
    assert_plain(report, "# Launch report: shop \\[/\\] ␛\\]0;title␇ (production)", "item 1 \\[/x\\]",
                 "(note: note 0 \\*\\*bold\\*\\* \\`code\\` \\<b\\>html\\</b\\> \\| pipe)", "11 records, chain intact")
    as_json = run("report", "--config", str(tmp_path / "launchdeck.toml"), "--format", "json")
    assert_plain(as_json)
    document = json.loads(as_json.stdout)
    items = document["phases"][0]["items"]
    assert [i["text"] for i in items] == list(ids)
    assert [i["text"] for i in items][:10] == [f"item {n} {text}" for n, text in enumerate(HOSTILE[:10])]
    assert [i["note"] for i in items] == [f"note {n} {HOSTILE[-1 - n]}" for n in range(len(HOSTILE))]
    assert document["title"] == "shop [/] \x1b]0;title\x07 (production)"
    listed_json = json.loads(run("signoff", "list", "--json", str(ledger)).stdout)
    assert [r["reason"] for r in listed_json] == [f"note {n} {HOSTILE[-1 - n]}" for n in range(len(HOSTILE))]


def test_a_multi_line_note_stays_on_its_own_line_in_the_report(tmp_path):
    path = tmp_path / "launch.md"
    path.write_text(CHECKLIST)
    ids = {i["text"]: i["id"] for i in json.loads(run("checklist", "show", str(path), "--json").stdout)["items"]}
    (tmp_path / "launchdeck.toml").write_text('[checklists]\nfiles = ["launch.md"]\nledger = "l.jsonl"\n')
    forged = "fine\n- [x] Security review — signed by ciso\n\n## post-launch (9/9)\r\n# Launch report: other"
    added = run("signoff", "add", str(tmp_path / "l.jsonl"), ids["All tests passing"], "--checklist", str(path),
                "--note", forged)
    assert added.returncode == 0, added.stderr
    report = run("report", "--config", str(tmp_path / "launchdeck.toml"))
    lines = report.stdout.splitlines()
    assert report.returncode == 0 and not NO_CONTROLS.search(report.stdout)
    assert not any(line.startswith(("- [x] Security", "## post-launch", "# Launch report: other")) for line in lines)
    [signed] = [line for line in lines if line.startswith("- [x]")]
    assert signed.startswith("- [x] All tests passing — signed by ")
    assert signed.endswith("(note: fine␤- \\[x\\] Security review — signed by ciso␤␤## post-launch (9/9)␍␤"
                           "# Launch report: other)")


# -- the ledger's integrity, shown where records are read ---------------------------------------------

def signed_deck(tmp_path, count=3):
    """A checklist of `count` items, each signed in the ledger by alice (in-process: quick)."""
    from launchdeck.audit.ledger import Ledger, Operator
    from launchdeck.checklists.parser import load_checklist
    from launchdeck.checklists.state import Board

    tasks = "".join(f"- [ ] Task {n}\n" for n in range(count))
    (tmp_path / "launch.md").write_text("# Launch\n## Pre-launch\n" + tasks)
    (tmp_path / "launchdeck.toml").write_text('[checklists]\nfiles = ["launch.md"]\nledger = "signoff.jsonl"\n')
    ledger = Ledger(tmp_path / "signoff.jsonl", operator=Operator("alice", 1001, "deck-1", None))
    for (name, item_id), state in Board.build([load_checklist(tmp_path / "launch.md")]).states.items():
        ledger.append(checklist=name, item_id=item_id, item_text=state.item.text, kind="sign", reason="ok")
    return tmp_path / "signoff.jsonl"


def report_of(tmp_path, fmt="md"):
    return run("report", "--config", str(tmp_path / "launchdeck.toml"), "--format", fmt)


def test_an_edited_signer_is_flagged_by_list_and_report_and_not_counted(tmp_path):
    ledger = signed_deck(tmp_path, 4)
    lines = ledger.read_text().splitlines()
    lines[1] = lines[1].replace('"login":"alice"', '"login":"ciso"')  # no re-hash: verify fails at line 2
    ledger.write_text("\n".join(lines) + "\n")

    listed = run("signoff", "list", str(ledger))
    assert listed.returncode == 1 and "Traceback" not in listed.stderr
    out = listed.stdout.splitlines()
    assert out[0].startswith(f"!! {ledger}: INTEGRITY PROBLEM at line 2: edited") and out[-1] == out[0]
    assert "lines 2-4 are UNVERIFIED" in out[0] and "Only the 1 records before it count" in out[0]
    [ciso] = [line for line in out if "ciso@deck-1" in line]
    assert ciso.startswith("UNVERIFIED line 2 ")
    assert [line.split()[:3] for line in out if line.startswith("UNVERIFIED")] == [
        ["UNVERIFIED", "line", "2"], ["UNVERIFIED", "line", "3"], ["UNVERIFIED", "line", "4"]]
    as_json = run("signoff", "list", "--json", str(ledger))  # exact data on stdout, the problem on stderr
    assert as_json.returncode == 1 and len(json.loads(as_json.stdout)) == 4 and "line 2" in as_json.stderr

    report = report_of(tmp_path)
    assert report.returncode == 1 and "INTEGRITY PROBLEM at line 2" in report.stderr
    assert "> **" in report.stdout and "INTEGRITY PROBLEM at line 2" in report.stdout
    assert "## pre-launch (1/4)" in report.stdout  # only the verified first sign-off counts
    assert "- [ ] Task 1" in report.stdout and "signed by ciso" not in report.stdout
    unverified = report.stdout.split("## Unverified ledger lines (from line 2: not counted above)")[1]
    assert "- line 2: sign launch.md:" in unverified and "by ciso@deck-1" in unverified and "UNVERIFIED" in unverified
    document = json.loads(report_of(tmp_path, "json").stdout)
    assert document["ledger"] | {"path": None, "head": None} == {
        "path": None, "ok": False, "records": 1, "head": None, "first_bad_line": 2, "problem": "edited",
        "detail": "line 2: record seq 2 was edited (hash mismatch)"}
    assert document["ledger"]["head"] == json.loads(lines[0])["hash"]
    assert [u["line"] for u in document["unverified"]] == [2, 3, 4]
    assert document["unverified"][0]["record"]["operator"]["login"] == "ciso"
    assert [i["status"] for i in document["phases"][0]["items"]] == ["signed", "open", "open", "open"]


def test_a_malformed_middle_line_is_shown_not_skipped(tmp_path):
    ledger = signed_deck(tmp_path, 3)
    lines = ledger.read_text().splitlines()
    ledger.write_text("\n".join([lines[0], '{"seq": 2, "note": "[/] \\u001b[2J"}', *lines[1:]]) + "\n")
    listed = run("signoff", "list", str(ledger))
    assert listed.returncode == 1 and not NO_CONTROLS.search(listed.stdout)
    rows = [line for line in listed.stdout.splitlines() if line.startswith("UNVERIFIED")]
    assert len(rows) == 3 and "not a record: missing" in rows[0] and rows[0].startswith("UNVERIFIED line 2 ")
    assert "INTEGRITY PROBLEM at line 2: malformed" in listed.stdout
    report = report_of(tmp_path)
    assert report.returncode == 1 and "## pre-launch (1/3)" in report.stdout
    assert "- line 2: not a record (missing" in report.stdout
    refused = run("signoff", "add", str(ledger), "anything", "--checklist", str(tmp_path / "launch.md"))
    assert refused.returncode == 2  # (no such item; the chain check is the ledger tests' business)


def test_expect_head_catches_removed_last_records_and_a_rehashed_chain(tmp_path):
    from launchdeck.audit.ledger import canonical_bytes

    ledger = signed_deck(tmp_path, 4)
    good = run("signoff", "verify", str(ledger))
    head = json.loads(ledger.read_text().splitlines()[-1])["hash"]
    assert good.returncode == 0 and f"head {head} (seq 4)" in good.stdout
    assert run("signoff", "verify", str(ledger), "--expect-head", head).returncode == 0
    assert run("signoff", "verify", str(ledger), "--expect-head", head[:12].upper()).returncode == 0
    short = run("signoff", "verify", str(ledger), "--expect-head", head[:11])
    assert short.returncode == 2 and "12 to 64 hex digits" in short.stderr
    assert report_of(tmp_path).stdout.count(f"4 records, chain intact, head {head}") == 1
    original = ledger.read_bytes()

    ledger.write_bytes(b"".join(original.splitlines(keepends=True)[:3]))  # the last record cut off whole
    cut = run("signoff", "verify", str(ledger), "--expect-head", head)
    assert run("signoff", "verify", str(ledger)).returncode == 0  # the chain alone cannot tell
    assert cut.returncode == 1 and "no verified record has the kept head" in cut.stderr
    assert "the last records were removed" in cut.stderr

    records = [json.loads(line) for line in original.splitlines()]
    records[1]["operator"]["login"] = "mallory"  # edited, then every hash from there on recomputed
    for n in range(1, 4):
        records[n]["prev_hash"] = records[n - 1]["hash"]
        del records[n]["hash"]
        records[n]["hash"] = hashlib.sha256(canonical_bytes(records[n])).hexdigest()
    ledger.write_bytes(b"".join(canonical_bytes(r) + b"\n" for r in records))
    assert run("signoff", "verify", str(ledger)).returncode == 0
    rehashed = run("signoff", "verify", str(ledger), "--expect-head", head[:16], "--json")
    assert rehashed.returncode == 1
    assert json.loads(rehashed.stdout) | {"head": None} == {
        "ok": True, "records": 4, "head": None, "first_bad_line": None, "problem": "",
        "detail": "4 records, chain intact",
        "expected_head": head[:16], "head_matches": False}

    ledger.write_bytes(original)  # sign-offs added since the head was kept: said so, still not that head
    (tmp_path / "grown").mkdir()
    grown = signed_deck(tmp_path / "grown", 2)
    older = json.loads(grown.read_text().splitlines()[0])["hash"]
    later = run("signoff", "verify", str(grown), "--expect-head", older)
    assert later.returncode == 1 and "the kept head is seq 1: 1 verified record(s) follow it" in later.stderr


def test_a_non_record_tail_refuses_sign_offs_until_repaired_and_nothing_is_lost(tmp_path):
    ledger = signed_deck(tmp_path, 3)
    ids = {i["text"]: i["id"] for i in json.loads(run("checklist", "show", str(tmp_path / "launch.md"),
                                                      "--json").stdout)["items"]}
    unsign = ["signoff", "add", str(ledger), ids["Task 2"], "--checklist", str(tmp_path / "launch.md"),
              "--unsign", "--reason", "redo"]
    with open(ledger, "ab") as file:
        file.write(b'{"seq": 41}\n')
    before = ledger.read_bytes()
    refused = run(*unsign)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "chain is broken at line 4 (malformed" in refused.stderr and "signoff repair" in refused.stderr
    assert ledger.read_bytes() == before

    dry = run("signoff", "repair", str(ledger), "--dry-run")
    assert dry.returncode == 0 and "would set 1 line(s) (12 bytes) aside from line 4" in dry.stdout
    assert ledger.read_bytes() == before and not list(tmp_path.glob("signoff.jsonl.set-aside-*"))
    repaired = run("signoff", "repair", str(ledger))
    assert repaired.returncode == 0, repaired.stderr
    [side] = tmp_path.glob("signoff.jsonl.set-aside-*")
    assert side.read_bytes() == b'{"seq": 41}\n' and ledger.read_bytes().startswith(before[:-12])
    assert f"in {side.name}; recorded as seq 4" in repaired.stdout
    again = run(*unsign)
    assert again.returncode == 0 and "unsign #5" in again.stdout
    listed = run("signoff", "list", str(ledger))
    assert listed.returncode == 0 and "5 records, chain intact" in listed.stdout
    assert f"set aside in {side.name}; malformed: line 4: not a valid record" in listed.stdout
    assert run("signoff", "repair", str(ledger)).stdout.endswith("chain intact, nothing to repair\n")


def test_checklist_show_prints_50000_items_as_plain_lines(tmp_path, monkeypatch):
    """A Rich table took 102 s for 50,000 rows; plain lines take 0.3 s (bench/big_checklist.py times
    it: numbers come from benchmarks, tests assert behaviour). Every item, markup and escapes as text."""
    import dataclasses

    from click.testing import CliRunner

    import launchdeck.cli.checklists as cli
    from launchdeck.checklists.parser import load_checklist

    (tmp_path / "launch.md").write_text("# Launch\n## Pre-launch\n- [ ] seed\n  - [x] nested seed\n")
    parsed = load_checklist(tmp_path / "launch.md")
    top, nested = parsed.items
    items = tuple(dataclasses.replace(nested if n % 10 == 9 else top, id=f"pre-launch/item-{n}",
                                      text=f"Item {n} [/x] \x1b[2J check") for n in range(50_000))
    monkeypatch.setattr(cli, "_checklist", lambda path: dataclasses.replace(parsed, items=items))
    result = CliRunner().invoke(cli.checklist, ["show", str(tmp_path / "launch.md")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Launch (50000 items)" and len(lines) == 2 + 2 * 50_000 + 1
    assert lines[3:5] == ["  [ ] Item 0 [/x] ␛[2J check", "      id pre-launch/item-0"]
    assert lines[-2:] == ["  [x]   Item 49999 [/x] ␛[2J check", "        id pre-launch/item-49999"]
