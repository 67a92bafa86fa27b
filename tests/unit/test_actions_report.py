"""Actions in `launchdeck report` and in the engine's event log, from real runs of `launchdeck act`
into a real ledger: Markdown escaped, JSON exact, and never shown as records of a checklist item."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from launchdeck.audit.ledger import Ledger
from launchdeck.checklists.parser import load_checklist
from launchdeck.checklists.report import action_runs
from launchdeck.checklists.session import ChecklistSession
from launchdeck.checklists.state import Board
from launchdeck.cli.act import act
from launchdeck.cli.checklists import report
from launchdeck.core.config import load_config
from launchdeck.core.model import Status
from launchdeck.engine.engine import Engine

PY = sys.executable
WRITE = "import sys; print('deploying', sys.argv[1])"
SPECIAL = "v1*_[x]|<b>`~&"  # every Markdown character the report escapes


def toml_str(value: object) -> str:
    return json.dumps(str(value))


def deck(tmp_path: Path) -> Path:
    (tmp_path / "launch.md").write_text("# Launch\n## Pre-launch\n- [ ] Security review\n", encoding="utf-8")
    config = tmp_path / "launchdeck.toml"
    config.write_text(f'''[deck]
name = "shop"
environment = "staging"
[checklists]
files = ["launch.md"]
[actions]
enabled = true
[actions.deploy]
confirm = "yes"
watch = "0s"
params = {{ version = '(?s).*' }}
steps = [{{ name = "ship", argv = [{toml_str(PY)}, "-c", {toml_str(WRITE)}, "{{version}}"] }},
         {{ name = "db", argv = ["true"], confirm = "migrate?" }}]
[actions.restore]
confirm = "yes"
argv = ["sh", "-c", "exit 4"]
''', encoding="utf-8")
    return config


def act_run(config: Path, *args: str):
    result = CliRunner().invoke(act, [*args, "--config", str(config)], catch_exceptions=False)
    return result


def make_runs(tmp_path: Path) -> Path:
    config = deck(tmp_path)
    done = act_run(config, "deploy", "--param", f"version={SPECIAL}", "--confirm", "yes", "--override-gate",
                   "--reason", "go *now*")
    assert done.exit_code == 0, done.output
    assert act_run(config, "restore", "--confirm", "yes").exit_code == 2
    return config


def test_report_lists_each_run_escaped_in_markdown_and_exact_in_json(tmp_path: Path):
    config = make_runs(tmp_path)
    markdown = CliRunner().invoke(report, ["--config", str(config)])
    assert markdown.exit_code == 0, markdown.output
    text = markdown.output
    assert "## Actions (2 run(s))" in text
    assert r"version=v1\*\_\[x\]\|\<b\>\`\~\&" in text and SPECIAL not in text
    assert r"reason: go \*now\*" in text and "**phase gate overridden**: 1 pre-launch item(s) open" in text
    assert "  - step 1 ship on local: ok, exit 0, " in text and "  - step 2 db on local: skipped" in text
    assert "**restore**" in text and "failed (exit 2)" in text and "  - step 1 run on local: failed, exit 4, " in text
    assert "Records for items no longer in the checklists" not in text  # action records are not orphans

    document = json.loads(CliRunner().invoke(report, ["--config", str(config), "--format", "json"]).output)
    assert document["orphans"] == [] and document["ambiguous"] == []
    deploy, restore = document["actions"]
    assert deploy["action"] == "deploy" and deploy["params"] == {"version": SPECIAL} and deploy["reason"] == "go *now*"
    assert deploy["outcome"] == "done" and deploy["exit_code"] == 0 and deploy["by"].count("@") == 1
    assert [(s["name"], s["outcome"], s["exit_status"]) for s in deploy["steps"]] == [("ship", "ok", 0),
                                                                                      ("db", "skipped", None)]
    assert isinstance(deploy["steps"][0]["duration_seconds"], float)
    log = Path(deploy["log"])
    assert deploy["log_sha256"] == hashlib.sha256(log.read_bytes()).hexdigest()
    assert f"log: {log}".replace("_", r"\_") in text and deploy["log_sha256"] in text
    assert deploy["gate"]["overridden"] and deploy["gate"]["open"][0]["text"] == "Security review"
    assert restore["outcome"] == "failed" and restore["steps"][0]["exit_status"] == 4


def test_a_run_without_its_finish_record_is_shown_as_such(tmp_path: Path):
    ledger = Ledger(tmp_path / "l.jsonl")
    ledger.append(checklist="actions", item_id="deploy", item_text="deploy version=v3 started", kind="action",
                  reason=None, evidence={"event": "start", "action": "deploy", "run": "r9", "params": {"version": "v3"}})
    runs = action_runs(ledger.records())
    assert runs[0]["outcome"] is None and runs[0]["params"] == {"version": "v3"}
    from launchdeck.audit.chain import check_ledger
    from launchdeck.checklists.report import report_markdown

    checked = check_ledger(ledger.path)
    assert "**no finish record** (still running, or its process was killed)" in report_markdown(
        Board.build([]), "t", checked, ledger.path)


def test_the_board_never_places_action_or_backup_verification_records(tmp_path: Path):
    path = tmp_path / "launch.md"
    path.write_text("# Launch\n## Pre-launch\n- [ ] deploy\n", encoding="utf-8")
    checklist = load_checklist(path, key="launch.md")
    ledger = Ledger(tmp_path / "l.jsonl")
    # item ids and texts that a careless placer would match onto the item "deploy"
    ledger.append(checklist="actions", item_id="deploy", item_text="deploy", kind="action",
                  evidence={"event": "start", "action": "deploy", "run": "r1"})
    ledger.append(checklist="actions", item_id="deploy", item_text="deploy", kind="note", reason="by hand")
    ledger.append(checklist="backups", item_id="main_db", item_text="deploy", kind="verify",
                  evidence={"result": "passed"})
    board = Board.build([checklist], ledger.records())
    assert board.orphans == [] and board.ambiguous == []
    assert [s.status for s in board.states.values()] == ["open"] and list(board.verifications) == [("main_db", "deploy")]


def test_actions_read_from_the_ledger_become_engine_events(tmp_path: Path):
    config_path = make_runs(tmp_path)  # two runs written before the engine started
    config = load_config(config_path)
    checklist = load_checklist(tmp_path / "launch.md", key="launch.md")
    session = ChecklistSession([checklist], tmp_path / "launch-signoff.jsonl")
    engine = Engine(config, [], checklists=session)
    engine.start()
    try:
        def action_events():
            return [e for e in engine.events.since(0) if e.kind == "action"]

        deadline = time.monotonic() + 10
        while len(action_events()) < 7 and time.monotonic() < deadline:
            time.sleep(0.05)
        before = action_events()
        # deploy: start, step, skipped, finish; restore: start, step, finish
        assert len(before) == 7, [e.text for e in before]
        assert all(e.panel == "actions" for e in before)
        assert before[0].target == "deploy" and "started" in before[0].text and "go *now*" in before[0].text
        assert before[0].severity is Status.WARN  # the phase gate was overridden
        assert before[3].severity is Status.OK and "done" in before[3].text
        assert before[-1].target == "restore" and before[-1].severity is Status.CRIT and "failed" in before[-1].text
        # another terminal's action, written while the engine runs, arrives too
        assert act_run(config_path, "restore", "--confirm", "yes").exit_code == 2
        deadline = time.monotonic() + 10
        while len(action_events()) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(action_events()) == 10
        assert not [e for e in engine.events.since(0) if e.kind == "problem"]
    finally:
        engine.stop()
