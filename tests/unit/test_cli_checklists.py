"""`checklist show`, `signoff add|list|verify` and `report` as a pipeline would run them."""

import json
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
