"""`launchdeck act` end to end on this machine: real commands, the real ledger, the real lock file.

Every refusal is proved to run nothing: the step would create a file, and the file is not there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from launchdeck.audit.chain import verify
from launchdeck.audit.ledger import Ledger
from launchdeck.cli.act import act

PY = sys.executable
# writes its argv (after the file name) as JSON into the file: what the command really received
ECHO_ARGV = "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))"
ANY = r'(?s).*'


def write_config(tmp_path: Path, actions: str, enabled: bool = True, environment: str = "staging") -> Path:
    path = tmp_path / "launchdeck.toml"
    path.write_text(f'[deck]\nenvironment = "{environment}"\n\n[actions]\nenabled = {str(enabled).lower()}\n'
                    f'{actions}\n', encoding="utf-8")
    return path


def run(config: Path, *args: str):
    result = CliRunner().invoke(act, [*args, "--config", str(config)], catch_exceptions=False)
    return result


def action_records(tmp_path: Path) -> list[dict]:
    return [r.evidence for r in Ledger(tmp_path / "launch-signoff.jsonl").records() if r.kind == "action"]


def toml_str(value: object) -> str:
    return json.dumps(str(value))


def deploy_writing(tmp_path: Path, marker: Path, params: str = "version = '^v[0-9.]+$'", extra: str = "") -> Path:
    return write_config(tmp_path, f'''
[actions.deploy]
argv = [{toml_str(PY)}, "-c", {toml_str(ECHO_ARGV)}, {toml_str(marker)}, "{{version}}"]
params = {{ {params} }}
watch = "0s"
{extra}''')


@pytest.mark.parametrize("value", ["; rm -rf /", "$(id)", "`id`", "a\nb", "x' \"y\" && touch /tmp/pwned-ld",
                                   "--help", "{version}", "-rf *"])
def test_injection_attempts_reach_the_command_as_one_literal_word(tmp_path: Path, value: str):
    marker = tmp_path / "argv.json"
    config = deploy_writing(tmp_path, marker, params=f"version = {toml_str(ANY)}")
    result = run(config, "deploy", "--param", f"version={value}", "--confirm", "staging")
    assert result.exit_code == 0, result.output
    assert json.loads(marker.read_text()) == [value]
    assert not Path("/tmp/pwned-ld").exists()


def test_done_writes_start_step_finish_with_log_and_its_sha256(tmp_path: Path):
    marker = tmp_path / "argv.json"
    config = deploy_writing(tmp_path, marker)
    result = run(config, "deploy", "--param", "version=v1.2", "--confirm", "staging", "--reason", "launch")
    assert result.exit_code == 0, result.output
    events = action_records(tmp_path)
    assert [e["event"] for e in events] == ["start", "step", "finish"]
    start, step, finish = events
    assert start["params"] == {"version": "v1.2"} and start["steps"][0]["argv"][-1] == "v1.2"
    assert step["exit_status"] == 0 and step["outcome"] == "ok"
    log = Path(finish["log"])
    import hashlib
    assert finish["log_sha256"] == hashlib.sha256(log.read_bytes()).hexdigest()
    assert finish["outcome"] == "done" and finish["exit_code"] == 0
    assert verify(tmp_path / "launch-signoff.jsonl").ok
    assert not (tmp_path / "launch-signoff.jsonl.action.lock").exists()


@pytest.mark.parametrize("args, words", [
    (["--param", "version=v1", "--confirm", "production"], "confirmation does not match: type the word 'staging'"),
    (["--param", "version=v1"], "confirmation does not match"),
    (["--param", "version=v1", "--confirm", "STAGING"], "confirmation does not match"),
    (["--param", "version=1; touch x", "--confirm", "staging"], "does not match its pattern"),
    (["--param", "version=v1\n", "--confirm", "staging"], "does not match its pattern"),
    (["--confirm", "staging"], "missing parameter version"),
    (["--param", "version=v1", "--param", "other=1", "--confirm", "staging"], "unknown parameter other"),
    (["--param", "version", "--confirm", "staging"], "expected NAME=VALUE"),
    (["--param", "version=v1", "--confirm", "staging", "--backup", "x.dump"],
     "--backup: [actions.deploy] chooses no backup"),
    (["--param", "version=v1", "--confirm", "staging", "--step", "nope"], "no optional step of that name"),
])
def test_refusals_exit_2_and_run_nothing(tmp_path: Path, args: list[str], words: str):
    marker = tmp_path / "ran"
    config = deploy_writing(tmp_path, marker)
    result = run(config, "deploy", *args)
    assert result.exit_code == 2 and words in result.output
    assert not marker.exists() and not (tmp_path / "launch-signoff.jsonl").exists()


def test_actions_not_enabled_refuses_and_allow_actions_enables(tmp_path: Path):
    marker = tmp_path / "ran"
    config = write_config(tmp_path, f'[actions.deploy]\nargv = ["touch", {toml_str(marker)}]\nconfirm = "yes"\n',
                          enabled=False)
    result = run(config, "deploy", "--confirm", "yes")
    assert result.exit_code == 2 and "actions are not enabled" in result.output and not marker.exists()
    assert run(config, "deploy", "--confirm", "yes", "--allow-actions").exit_code == 0 and marker.exists()


def test_an_unknown_or_unconfigured_action_is_refused(tmp_path: Path):
    config = write_config(tmp_path, "")
    assert "unknown action 'launch'" in run(config, "launch", "--confirm", "yes").output
    assert "no [actions.restore]" in run(config, "restore", "--confirm", "yes").output


def test_a_held_lock_names_its_holder_and_nothing_runs(tmp_path: Path):
    import os
    import socket

    marker = tmp_path / "ran"
    config = deploy_writing(tmp_path, marker)
    holder = {"login": "alice", "host": socket.gethostname(), "pid": os.getppid(), "action": "restore",
              "params": {}, "reason": "nightly", "started": 0, "token": "t"}
    (tmp_path / "launch-signoff.jsonl.action.lock").write_text(json.dumps(holder))
    result = run(config, "deploy", "--param", "version=v1", "--confirm", "staging")
    assert result.exit_code == 2 and "held by alice@" in result.output and "running restore" in result.output
    assert not marker.exists() and action_records(tmp_path) == []
    assert json.loads((tmp_path / "launch-signoff.jsonl.action.lock").read_text()) == holder  # left alone


def test_an_optional_step_runs_only_when_said_yes_to(tmp_path: Path):
    db = tmp_path / "db-rolled-back"
    config = write_config(tmp_path, f'''
[actions.deploy]
confirm = "yes"
watch = "0s"
steps = [{{ name = "app", argv = ["true"] }},
         {{ name = "database", argv = ["touch", {toml_str(db)}], confirm = "rollback database?" }}]
''')
    result = run(config, "deploy", "--confirm", "yes")
    assert result.exit_code == 0 and "skipped" in result.output and not db.exists()
    assert [e["event"] for e in action_records(tmp_path)] == ["start", "step", "skipped", "finish"]
    assert run(config, "deploy", "--confirm", "yes", "--step", "database").exit_code == 0 and db.exists()


def test_a_failed_step_stops_the_runbook_and_exits_2(tmp_path: Path):
    after = tmp_path / "after"
    config = write_config(tmp_path, f'''
[actions.deploy]
confirm = "yes"
steps = [{{ name = "fails", argv = ["sh", "-c", "echo about to fail; exit 3"] }},
         {{ name = "after", argv = ["touch", {toml_str(after)}] }}]
''')
    result = run(config, "deploy", "--confirm", "yes", "--json")
    assert result.exit_code == 2 and not after.exists()
    document = json.loads(result.stdout)
    assert document["outcome"] == "failed" and document["steps"][0]["exit_status"] == 3
    assert "about to fail" in result.stderr if hasattr(result, "stderr") else True
    finish = action_records(tmp_path)[-1]
    assert finish["event"] == "finish" and finish["outcome"] == "failed" and "step fails" in finish["message"]


def test_command_not_found_is_a_clear_failure(tmp_path: Path):
    config = write_config(tmp_path, '[actions.deploy]\nconfirm = "yes"\nargv = ["no-such-launchdeck-tool", "x"]\n')
    result = run(config, "deploy", "--confirm", "yes")
    assert result.exit_code == 2 and "`no-such-launchdeck-tool`: command not found" in result.output


def test_rollback_targets_the_previous_good_version_from_the_ledger(tmp_path: Path):
    marker = tmp_path / "argv.json"
    config = deploy_writing(tmp_path, marker, extra=f'''
[actions.rollback]
confirm = "yes"
argv = [{toml_str(PY)}, "-c", {toml_str(ECHO_ARGV)}, {toml_str(marker)}, "{{version}}"]
''')
    assert "no previous good version" in run(config, "rollback", "--confirm", "yes").output
    for version in ("v1", "v2"):
        assert run(config, "deploy", "--param", f"version={version}", "--confirm", "staging").exit_code == 0
    assert "not typed" in run(config, "rollback", "--param", "version=v9", "--confirm", "yes").output
    result = run(config, "rollback", "--confirm", "yes")
    assert result.exit_code == 0 and "rolling back from v2 to v1" in result.output
    assert json.loads(marker.read_text()) == ["v1"]


def test_output_is_printed_as_text_never_as_escape_sequences(tmp_path: Path):
    config = write_config(tmp_path, '[actions.deploy]\nconfirm = "yes"\n'
                                    'argv = ["printf", "\\u001b[2J\\u001b]0;owned\\u0007bytes:\\\\377\\\\n"]\n')
    result = run(config, "deploy", "--confirm", "yes")
    assert result.exit_code == 0 and "\x1b" not in result.output and "␛[2J" in result.output
    assert "bytes:\ufffd" in result.output
    log = Path(action_records(tmp_path)[-1]["log"]).read_bytes()
    assert b"\x1b[2J" in log and b"bytes:\xff" in log  # the log file keeps every byte


def test_a_secret_in_an_argv_is_masked_in_output_log_and_ledger_but_reaches_the_command(tmp_path: Path,
                                                                                        monkeypatch):
    marker = tmp_path / "argv.json"
    monkeypatch.setenv("LD_DEPLOY_TOKEN", "tok-very-secret-123")
    config = write_config(tmp_path, f'''
[actions.deploy]
confirm = "yes"
argv = [{toml_str(PY)}, "-c", {toml_str(ECHO_ARGV)}, {toml_str(marker)}, "--token=${{LD_DEPLOY_TOKEN}}"]
''')
    result = run(config, "deploy", "--confirm", "yes")
    assert result.exit_code == 0, result.output
    assert json.loads(marker.read_text()) == ["--token=tok-very-secret-123"]
    log = Path(action_records(tmp_path)[-1]["log"])
    for text in (result.output, log.read_text(), (tmp_path / "launch-signoff.jsonl").read_text()):
        assert "tok-very-secret-123" not in text
    assert "--token=***" in result.output


def test_a_secret_the_command_prints_is_masked_in_the_log_file_too(tmp_path: Path, monkeypatch):
    """The command echoes a configured ${ENV} secret (and a DSN with a password), split across two
    writes: the screen, the log file (0640) and the ledger hold the mask, never the value."""
    monkeypatch.setenv("LD_API_KEY", "key-printed-4711")
    printing = ("import sys, time; w = sys.stdout.buffer; w.write(b'token key-print'); w.flush(); time.sleep(0.2); "
                "w.write(b'ed-4711 here\\npostgresql://app:pw-in-url-9@db/shop\\nraw:\\xff\\n'); w.flush()")
    config = write_config(tmp_path, f'''
[actions.deploy]
confirm = "yes"
argv = [{toml_str(PY)}, "-c", {toml_str(printing)}]
env = {{ API_KEY = "${{LD_API_KEY}}" }}
''')
    result = run(config, "deploy", "--confirm", "yes")
    assert result.exit_code == 0, result.output
    log = Path(action_records(tmp_path)[-1]["log"])
    data = log.read_bytes()
    assert b"key-printed-4711" not in data and b"pw-in-url-9" not in data
    assert b"token *** here\n" in data and b"postgresql://app:***@db/shop" in data and b"raw:\xff\n" in data
    assert log.stat().st_mode & 0o777 == 0o640
    for text in (result.output, (tmp_path / "launch-signoff.jsonl").read_text()):
        assert "key-printed-4711" not in text
    assert action_records(tmp_path)[-1]["log_sha256"] == __import__("hashlib").sha256(data).hexdigest()


def test_launchdeck_act_is_registered_and_honours_the_groups_allow_actions(tmp_path: Path):
    from launchdeck.cli import main

    marker = tmp_path / "ran"
    config = write_config(tmp_path, f'[actions.deploy]\nargv = ["touch", {toml_str(marker)}]\nconfirm = "yes"\n',
                          enabled=False)
    refused = CliRunner().invoke(main, ["act", "deploy", "--config", str(config), "--confirm", "yes"])
    assert refused.exit_code == 2 and "actions are not enabled" in refused.output and not marker.exists()
    done = CliRunner().invoke(main, ["--allow-actions", "act", "deploy", "--config", str(config), "--confirm", "yes"])
    assert done.exit_code == 0, done.output
    assert marker.exists()


def restore_runbook(tmp_path: Path, marker: Path) -> tuple[Path, Path]:
    """A steps restore whose {backup} comes from a [[backups]] source of three real files."""
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    for stamp in ("20261123_030000", "20261124_030000", "20261125_030000"):
        (dumps / f"main_db_{stamp}.sql.gz").write_bytes(b"\x1f\x8b dump " + stamp.encode())
    (tmp_path / "secret.sql.gz").write_text("not a listed backup")
    config = write_config(tmp_path, f'''
[actions.restore]
backups = "main_db"
confirm = "yes"
argv = [{toml_str(PY)}, "-c", {toml_str(ECHO_ARGV)}, {toml_str(marker)}, "{{backup}}"]

[[backups]]
name = "main_db"
path = {toml_str(dumps)}
pattern = "main_db_*.sql.gz"
name_time = "main_db_%Y%m%d_%H%M%S"
''')
    return config, dumps


def test_a_restore_runbook_restores_a_listed_backup_chosen_with_backup_or_the_newest(tmp_path: Path):
    marker = tmp_path / "argv.json"
    config, dumps = restore_runbook(tmp_path, marker)
    newest = run(config, "restore", "--confirm", "yes")
    assert newest.exit_code == 0, newest.output
    assert json.loads(marker.read_text()) == [str(dumps / "main_db_20261125_030000.sql.gz")]
    chosen = run(config, "restore", "--backup", "main_db_20261123_030000.sql.gz", "--confirm", "yes")
    assert chosen.exit_code == 0, chosen.output
    assert json.loads(marker.read_text()) == [str(dumps / "main_db_20261123_030000.sql.gz")]
    start = [r for r in action_records(tmp_path) if r["event"] == "start"][-1]
    assert start["params"] == {"backup": "main_db_20261123_030000.sql.gz"}
    assert start["backup"] == str(dumps / "main_db_20261123_030000.sql.gz")


@pytest.mark.parametrize("wanted", ["../secret.sql.gz", "{tmp}/secret.sql.gz", "{dumps}/../secret.sql.gz",
                                    "main_db_20200101_030000.sql.gz", "/etc/passwd", "main_db_*.sql.gz"])
def test_a_restore_runbook_refuses_a_backup_not_in_its_listing_and_runs_nothing(tmp_path: Path, wanted: str):
    marker = tmp_path / "argv.json"
    config, dumps = restore_runbook(tmp_path, marker)
    wanted = wanted.format(tmp=tmp_path, dumps=dumps)
    result = run(config, "restore", "--backup", wanted, "--confirm", "yes")
    assert result.exit_code == 2 and "not in the listing of backups 'main_db'" in result.output, result.output
    typed = run(config, "restore", "--param", f"backup={dumps / 'main_db_20261124_030000.sql.gz'}", "--confirm", "yes")
    assert typed.exit_code == 2 and "not typed as --param" in typed.output, typed.output
    assert not marker.exists() and action_records(tmp_path) == []


def test_act_says_when_the_watch_window_cannot_see_a_sustained_breach(tmp_path: Path):
    marker = tmp_path / "argv.json"
    config = deploy_writing(tmp_path, marker, extra='confirm = "yes"\n')
    config.write_text(config.read_text().replace('watch = "0s"', 'watch = "2s"') + '''
[[traffic]]
name = "checkout"
source = "scrape"
scrape_url = "http://127.0.0.1:9/metrics"
error_ratio_for = "5m"
''')
    refused = run(config, "deploy", "--param", "version=v1", "--confirm", "no")  # said before the refusal too
    assert refused.exit_code == 2
    assert ("warning: actions.deploy.watch 2s is not longer than traffic checkout's error_ratio_for 5m"
            in refused.output), refused.output


def test_launchdeck_check_warns_about_a_watch_window_too_short_to_see_a_breach(tmp_path: Path, capsys):
    from launchdeck.cli.oneshot import check
    from launchdeck.core.config import load_config

    config = deploy_writing(tmp_path, tmp_path / "never", extra='confirm = "yes"\n')
    config.write_text(config.read_text().replace('watch = "0s"', 'watch = "5m"') + '''
[[traffic]]
name = "checkout"
source = "scrape"
scrape_url = "http://127.0.0.1:9/metrics"
''')
    check(load_config(config), as_json=True, rate_gap=0.05)
    said = capsys.readouterr()
    assert ("warning: actions.deploy.watch 5m is not longer than traffic checkout's error_ratio_for 5m"
            in " ".join(said.err.split())), said.err
    assert json.loads(said.out)  # --json's stdout is still one JSON document
    config.write_text(config.read_text().replace('watch = "5m"', 'watch = "6m"'))
    check(load_config(config), as_json=True, rate_gap=0.05)
    assert "warning" not in capsys.readouterr().err
