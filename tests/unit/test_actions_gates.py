"""The phase gate and the state warnings of `launchdeck act`, on real files: a configured checklist,
the real ledger, real commands. Every refusal is proved to run nothing: the deploy's command would
create a marker file, and the file is not there.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from launchdeck.actions.gates import (
    lock_holder,
    phase_gate,
    pre_launch_open,
    state_warnings,
)
from launchdeck.audit.chain import verify
from launchdeck.audit.ledger import Ledger
from launchdeck.checklists.parser import load_checklist
from launchdeck.checklists.state import Board
from launchdeck.cli.act import act
from launchdeck.core.config import load_config
from launchdeck.core.model import Reading, Status

PY = sys.executable
TOUCH = "import sys; open(sys.argv[1], 'w').write('ran')"
CHECKLIST = """# Launch
## Pre-launch
- [ ] Security review \x1b[2J done
- [ ] Backups tested
## Launch day
- [ ] Announce
"""


def toml_str(value: object) -> str:
    return json.dumps(str(value))


def deck(tmp_path: Path, marker: Path, checklists: bool = True, extra: str = "") -> Path:
    (tmp_path / "launch.md").write_text(CHECKLIST, encoding="utf-8")
    section = '[checklists]\nfiles = ["launch.md"]\n' if checklists else ""
    config = tmp_path / "launchdeck.toml"
    config.write_text(f'''[deck]
environment = "staging"
{section}
[actions]
enabled = true

[actions.deploy]
argv = [{toml_str(PY)}, "-c", {toml_str(TOUCH)}, {toml_str(marker)}, "{{version}}"]
params = {{ version = '^v[0-9.]+$' }}
confirm = "typed"
watch = "0s"

[actions.rollback]
argv = [{toml_str(PY)}, "-c", {toml_str(TOUCH)}, {toml_str(marker)}, "{{version}}"]
confirm = "yes"
{extra}''', encoding="utf-8")
    return config


def run(config: Path, *args: str):
    return CliRunner().invoke(act, [*args, "--config", str(config)], catch_exceptions=False)


def ledger(tmp_path: Path) -> Path:
    return tmp_path / "launch-signoff.jsonl"


def actions(tmp_path: Path) -> list:
    path = ledger(tmp_path)
    return [r for r in Ledger(path).records() if r.kind == "action"] if path.exists() else []


def sign_pre_launch(tmp_path: Path, kind: str = "sign") -> None:
    checklist = load_checklist(tmp_path / "launch.md", key="launch.md")
    for item in checklist.items:
        if item.phase == "pre-launch":
            Ledger(ledger(tmp_path)).append(checklist="launch.md", item_id=item.id, item_text=item.text, kind=kind,
                                            reason="done" if kind == "waive" else None)


DEPLOY = ("deploy", "--param", "version=v2", "--confirm", "staging")


def test_a_deploy_with_pre_launch_items_open_is_refused_naming_them_and_runs_nothing(tmp_path: Path):
    marker = tmp_path / "ran"
    config = deck(tmp_path, marker)
    result = run(config, *DEPLOY)
    assert result.exit_code == 2, result.output
    assert "the pre-launch checklist is incomplete: 2 item(s) open" in result.output
    assert "launch.md: Security review ␛[2J done" in result.output and "\x1b" not in result.output
    assert "--override-gate --reason TEXT" in result.output
    assert not marker.exists() and actions(tmp_path) == []
    assert not Path(f"{ledger(tmp_path)}.action.lock").exists()


def test_a_wrong_confirmation_with_the_gate_overridden_is_still_refused(tmp_path: Path):
    marker = tmp_path / "ran"
    config = deck(tmp_path, marker)
    result = run(config, "deploy", "--param", "version=v2", "--confirm", "production", "--override-gate",
                 "--reason", "hotfix")
    assert result.exit_code == 2 and "confirmation does not match" in result.output
    assert not marker.exists() and actions(tmp_path) == []


def test_override_gate_needs_a_reason_and_runs_nothing_without_one(tmp_path: Path):
    marker = tmp_path / "ran"
    config = deck(tmp_path, marker)
    for extra in ([], ["--reason", "   "]):
        result = run(config, *DEPLOY, "--override-gate", *extra)
        assert result.exit_code == 2 and "--override-gate needs a reason" in result.output
        assert not marker.exists() and actions(tmp_path) == []


def test_an_overridden_gate_runs_and_records_the_open_items_and_the_reason(tmp_path: Path):
    marker = tmp_path / "ran"
    config = deck(tmp_path, marker)
    result = run(config, *DEPLOY, "--override-gate", "--reason", "CEO says go")
    assert result.exit_code == 0, result.output
    assert marker.exists() and "phase gate overridden (2 pre-launch item(s) open): CEO says go" in result.output
    start = actions(tmp_path)[0]
    gate = start.evidence["gate"]
    assert start.evidence["event"] == "start" and start.reason == "CEO says go"
    assert gate["closed"] and gate["overridden"] and gate["override_reason"] == "CEO says go"
    assert [i["text"] for i in gate["open"]] == ["Security review \x1b[2J done", "Backups tested"]  # exact
    assert verify(ledger(tmp_path)).ok


def test_a_complete_pre_launch_checklist_opens_the_gate(tmp_path: Path):
    marker = tmp_path / "ran"
    config = deck(tmp_path, marker)
    sign_pre_launch(tmp_path, "waive")  # a waiver with its reason counts as done
    result = run(config, *DEPLOY, "--json")
    assert result.exit_code == 0, result.output
    assert marker.exists()
    gate = actions(tmp_path)[0].evidence["gate"]
    assert gate["closed"] is False and gate["overridden"] is False and gate["open"] == []
    assert json.loads(result.stdout)["gate"] == gate


def test_override_gate_when_the_gate_is_open_overrides_nothing(tmp_path: Path):
    marker = tmp_path / "ran"
    config = deck(tmp_path, marker)
    sign_pre_launch(tmp_path)
    result = run(config, *DEPLOY, "--override-gate", "--reason", "habit")
    assert result.exit_code == 0 and "--override-gate not needed" in result.output
    assert actions(tmp_path)[0].evidence["gate"]["overridden"] is False


def test_no_configured_checklists_means_no_gate(tmp_path: Path):
    marker = tmp_path / "ran"
    config = deck(tmp_path, marker, checklists=False)
    assert run(config, *DEPLOY).exit_code == 0 and marker.exists()
    assert actions(tmp_path)[0].evidence["gate"] is None


def test_a_rollback_is_never_gated(tmp_path: Path):
    marker = tmp_path / "ran"
    config = deck(tmp_path, marker)
    for version in ("v1", "v2"):
        overridden = run(config, "deploy", "--param", f"version={version}", "--confirm", "staging",
                         "--override-gate", "--reason", "two items pending")
        assert overridden.exit_code == 0, overridden.output
    marker.unlink()
    rolled = run(config, "rollback", "--confirm", "yes")
    assert rolled.exit_code == 0 and "pre-launch" not in rolled.output, rolled.output
    assert marker.exists()
    assert [r for r in actions(tmp_path) if r.evidence["event"] == "start"][-1].evidence["gate"] is None


def test_an_unreadable_checklist_closes_the_gate_and_says_why(tmp_path: Path):
    marker = tmp_path / "ran"
    config = deck(tmp_path, marker)
    (tmp_path / "launch.md").unlink()
    result = run(config, *DEPLOY)
    assert result.exit_code == 2 and "the pre-launch checklist cannot be checked" in result.output
    assert "launch.md" in result.output and not marker.exists()


def test_json_refusal_carries_the_gate_exactly(tmp_path: Path):
    config = deck(tmp_path, tmp_path / "ran")
    result = run(config, *DEPLOY, "--json")
    document = json.loads(result.stdout)
    assert document["outcome"] == "refused" and document["exit_code"] == 2
    assert document["gate"]["open"][0]["text"] == "Security review \x1b[2J done" and document["warnings"] == []


def test_warnings_from_the_current_state_are_shown_and_recorded_but_never_block(tmp_path: Path):
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    old = dumps / "main_db_1.dump"
    old.write_bytes(b"x" * 100)
    three_days_ago = time.time() - 3 * 86400
    os.utime(old, (three_days_ago, three_days_ago))
    marker = tmp_path / "ran"
    config = deck(tmp_path, marker, checklists=False, extra=f'''
[[backups]]
name = "main_db"
path = {toml_str(dumps)}
max_age = "1h"

[[services]]
name = "api"
url = "http://127.0.0.1:9/health"
timeout = "1s"
''')
    result = run(config, *DEPLOY)
    assert result.exit_code == 0, result.output
    assert marker.exists()
    shown = [line for line in result.output.splitlines() if line.startswith("warning: ")]
    assert sorted(line.split(":")[1] for line in shown) == [" backups main_db", " services api"], shown
    recorded = actions(tmp_path)[0].evidence["warnings"]
    assert [f"warning: {w}" for w in recorded] == shown


def test_the_tui_calls_the_same_functions_with_its_live_board_and_snapshot(tmp_path: Path):
    config = load_config(deck(tmp_path, tmp_path / "ran"))
    checklist = load_checklist(tmp_path / "launch.md", key="launch.md")
    board = Board.build([checklist])
    assert [i.text for i in pre_launch_open(board)] == ["Security review \x1b[2J done", "Backups tested"]
    assert phase_gate(config, "deploy", board).closed and not phase_gate(config, "restore", board).closed
    sign_pre_launch(tmp_path)
    signed = Board.build([checklist], Ledger(ledger(tmp_path)).records())
    assert pre_launch_open(signed) == [] and not phase_gate(config, "deploy", signed).closed
    now = datetime.now(UTC)
    readings = [Reading("backups", "db", Status.WARN, "newest dump 2h old", {}, now, 0.0),
                Reading("services", "web", Status.OK, "", {}, now, 0.0),
                Reading("traffic", "shop", Status.CRIT, "error ratio 7% > 5%", {}, now, 0.0),
                Reading("services", "api", Status.UNKNOWN, "", {}, now, 0.0)]
    assert state_warnings(readings) == ["traffic shop: crit: error ratio 7% > 5%", "services api: unknown",
                                        "backups db: warn: newest dump 2h old"]


def test_the_lock_holder_is_named_for_the_confirmation(tmp_path: Path):
    import socket

    assert lock_holder(ledger(tmp_path)) == ""
    holder = {"login": "alice", "host": socket.gethostname(), "pid": os.getpid(), "action": "restore",
              "params": {"backup": "x.dump"}, "reason": "nightly", "started": time.time() - 120, "token": "t"}
    Path(f"{ledger(tmp_path)}.action.lock").write_text(json.dumps(holder))
    words = lock_holder(ledger(tmp_path))
    assert words.startswith("held by alice@") and "running restore backup=x.dump for 2m" in words, words


async def test_the_watch_window_reads_a_live_engine_and_counts_only_what_it_saw_since_opening():
    """From the dashboard the window polls nothing of its own: it reads the running engine, and a
    crit reading taken before the deploy finished is not the deploy's breach."""
    import asyncio
    import time

    from launchdeck.actions.watch import watch_window
    from launchdeck.core.config import parse_config
    from launchdeck.core.model import Outcome, Status
    from launchdeck.engine.engine import Engine
    from tests.fakes import FakeProbe

    config = parse_config('[[services]]\nname = "web"\nurl = "http://127.0.0.1:9/"\n', "t.toml", {})
    recovered = FakeProbe("web", [Outcome(Status.CRIT, "down before the deploy")] + [Outcome(Status.OK, "up")] * 99,
                          interval=0.1)
    engine = Engine(config, [recovered])
    engine.start()
    try:
        while recovered.calls < 1:
            time.sleep(0.01)
        result = await watch_window(config, 0.6, asyncio.Event(), tick=0.05, live=engine)
        assert result.passed and result.breach is None, result
        assert recovered.calls > 2, "the live engine kept polling; the window read it"
    finally:
        engine.stop()

    broken = FakeProbe("web", [Outcome(Status.OK, "up")] * 3 + [Outcome(Status.CRIT, "HTTP 503")] * 99, interval=0.1)
    engine = Engine(config, [broken])
    engine.start()
    try:
        result = await watch_window(config, 5.0, asyncio.Event(), tick=0.05, live=engine)
        assert not result.passed and result.breach == "services web: HTTP 503", result
    finally:
        engine.stop()


async def test_the_watch_window_judges_only_the_chosen_services_and_traffic():
    """watch_services = ["api"]: a crit row of another service (search, not touched by this deploy) is no
    breach; the chosen one's crit is."""
    import asyncio

    from launchdeck.actions.watch import watch_window
    from launchdeck.core.config import parse_config
    from launchdeck.core.model import Outcome, Status
    from launchdeck.engine.engine import Engine
    from tests.fakes import FakeProbe

    config = parse_config('[[services]]\nname = "api"\nurl = "http://127.0.0.1:9/"\n'
                          '[[services]]\nname = "search"\nurl = "http://127.0.0.1:9/"\n', "t.toml", {})
    engine = Engine(config, [FakeProbe("api", [Outcome(Status.OK, "up")] * 99, interval=0.05),
                             FakeProbe("search", [Outcome(Status.CRIT, "HTTP 503")] * 99, interval=0.05)])
    engine.start()
    try:
        chosen = await watch_window(config, 0.5, asyncio.Event(), tick=0.05, live=engine, services=["api"], traffic=[])
        every = await watch_window(config, 5.0, asyncio.Event(), tick=0.05, live=engine)
    finally:
        engine.stop()
    assert chosen.passed and chosen.watched == ["services api"], chosen
    assert not every.passed and every.breach == "services search: HTTP 503", every
