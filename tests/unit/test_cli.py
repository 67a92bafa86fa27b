"""The command line as a user meets it: a real subprocess, so a traceback could not hide."""

import json
import re
import subprocess
import sys

import pytest

from launchdeck.core.config import parse_config


def launchdeck(*args, cwd=None, env=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "launchdeck", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)


@pytest.mark.parametrize("body, expected", [
    ('[deck\nname = "x"\n', "bad.toml:1:6: malformed TOML"),
    ('[deck]\nname = "x"\ncolour = "red"\n', "deck.colour: unknown key (allowed: name, environment, refresh, record, engine, bell)"),
    ('[[services]]\nname = "a"\nurl = "http://x"\ntimeout = "soon"\n', "services[0].timeout: expected a duration"),
])
def test_config_problems_exit_2_with_one_clear_message(tmp_path, body, expected):
    config = tmp_path / "bad.toml"
    config.write_text(body)
    for args in (["check", "--config", str(config)], ["--config", str(config)]):
        result = launchdeck(*args)
        assert result.returncode == 2
        assert expected in result.stderr and str(config) in result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        assert len(result.stderr.splitlines()) <= 10


def test_missing_config_says_where_it_looked(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    result = launchdeck("check", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "no config found" in result.stderr and "launchdeck init" in result.stderr


def test_init_writes_a_config_that_loads_and_refuses_to_overwrite(tmp_path):
    target = tmp_path / "launchdeck.toml"
    assert launchdeck("init", str(target)).returncode == 0
    assert parse_config(target.read_text(), str(target), {}).deck.name == "shop"
    again = launchdeck("init", str(target))
    assert again.returncode == 2 and "already exists" in again.stderr
    assert launchdeck("init", str(target), "--force").returncode == 0


def test_check_with_nothing_configured_is_unknown_not_ok(tmp_path):
    config = tmp_path / "empty.toml"
    config.write_text('[deck]\nname = "empty"\n')
    result = launchdeck("check", "--json", "--config", str(config))
    document = json.loads(result.stdout)
    assert result.returncode == 2
    reason = "nothing is configured to watch: add [[services]], [[traffic]], [[containers]] or [[backups]]"
    assert document == {"verdict": "no-go", "status": "unknown", "reasons": [reason], "readings": []}
    table = launchdeck("check", "--config", str(config))
    assert table.returncode == 2 and "verdict: NO-GO  nothing is configured to watch" in table.stdout


def test_the_check_table_shows_each_rows_number_since_reasons_carry_none():
    from datetime import datetime, timezone

    from launchdeck.cli.oneshot import measure
    from launchdeck.core.model import Reading, Status

    def reading(panel, **values):
        return Reading(panel, "t", Status.OK, "", values, datetime(2026, 1, 1, tzinfo=timezone.utc), 0.0)

    assert measure(reading("services", latency_seconds=0.657)) == "657ms"
    assert measure(reading("traffic", error_ratio=0.0123, p95_seconds=0.186)) == "1.23% 186ms"
    assert measure(reading("traffic", error_ratio=None, p95_seconds=None)) == ""
    assert measure(reading("containers", cpu_percent=78.04)) == "cpu 78.0%"
    assert measure(reading("backups", age_seconds=3 * 3600 + 125)) == "age 3h02m"
    assert measure(reading("backups", age_seconds=-7200)) == "age in 2h"


def test_a_path_that_cannot_be_used_is_one_line_and_exit_2_never_a_traceback(tmp_path):
    """The class: deliberate errors (LaunchdeckError) and OS errors on a user's path end at the CLI's
    one handler, whatever the command."""
    (tmp_path / "launch.md").write_text("# L\n## Pre-launch\n- [ ] a\n")
    (tmp_path / "ledger-dir").mkdir()
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    (tmp_path / "launchdeck.toml").write_text('[checklists]\nfiles = ["launch.md"]\nledger = "ledger-dir"\n')
    cases = [
        (["init", str(tmp_path / "no" / "such" / "x.toml")], "No such file or directory"),
        (["report", "--config", str(tmp_path / "launchdeck.toml")], "ledger-dir"),
        (["signoff", "verify", str(tmp_path / "link.jsonl")], "symbolic link"),
        (["signoff", "list", str(tmp_path / "link.jsonl")], "symbolic link"),
    ]
    for args, words in cases:
        result = launchdeck(*args, timeout=20)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr and words in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


NO_CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f\x80-\x9f]")  # the line break is the only control allowed


def test_markup_and_escapes_in_names_and_command_output_are_printed_as_text_by_check(tmp_path):
    """`[/x]` in a service name crashed the table (exit 1: "warn" to CI); an escape sequence in a
    command's output reached the terminal."""
    config = tmp_path / "c.toml"
    config.write_text('[deck]\nname = "shop [/] [red]x[/red]"\n[[services]]\nname = "api [/x] \\u001b[2J"\n'
                      'kind = "command"\nargv = ["sh", "-c", "printf \'boom [/] [bold]x \\\\033]0;pwn\\\\007 '
                      '\\\\233 \\\\033[2J\'; exit 3"]\n')
    result = launchdeck("check", "--config", str(config))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert not NO_CONTROLS.search(result.stdout + result.stderr), repr(result.stdout)
    assert "shop [/] [red]x[/red] · production" in result.stdout and "api [/x] ␛[2J" in result.stdout
    assert "boom [/] [bold]x" in result.stdout and "verdict: NO-GO  services/api [/x] ␛[2J crit" in result.stdout
    document = json.loads(launchdeck("check", "--json", "--config", str(config)).stdout)
    assert document["readings"][0]["target"] == "api [/x] \x1b[2J"


def test_a_backup_file_name_with_markup_and_escapes_is_listed_and_verified_as_text(tmp_path):
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    name = "db-[red]x[bold]\x1b[2J\x1b]0;pwn\x07\u202e.sql"
    (dumps / name).write_bytes(b"x" * 100)
    config = tmp_path / "c.toml"
    config.write_text(f'[[backups]]\nname = "nightly [/x] \\u001b[2J"\npath = "{dumps}"\n')
    shown = "db-[red]x[bold]␛[2J␛]0;pwn␇\\u202e.sql"
    listed = launchdeck("backups", "list", "--config", str(config))
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    assert not NO_CONTROLS.search(listed.stdout) and shown in listed.stdout and "nightly [/x] ␛[2J" in listed.stdout
    verified = launchdeck("backups", "verify", "--config", str(config))
    assert verified.returncode == 2 and "Traceback" not in verified.stderr
    assert not NO_CONTROLS.search(verified.stdout) and f"nightly [/x] ␛[2J: {shown} FAILED" in verified.stdout
    as_json = json.loads(launchdeck("backups", "list", "--json", "--config", str(config)).stdout)
    assert as_json[0]["backups"][0]["name"] == name


def test_error_lines_show_control_characters_in_paths_and_config_values(tmp_path):
    """A path or a config value people wrote reaches the terminal as visible text, never as an
    escape sequence (here: one that would clear the screen and one that would set the title)."""
    hostile = tmp_path / "x\x1b[2Jy\x1b]0;owned\x07"
    hostile.mkdir()
    result = launchdeck("init", str(hostile / "missing" / "launchdeck.toml"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "x␛[2Jy␛]0;owned␇" in result.stderr
    config = tmp_path / "bad.toml"
    config.write_text('[deck]\nname = "x"\nrefresh = "\\u001b[31mfast"\n')  # TOML's escape: the value holds ESC
    bad = launchdeck("check", "--config", str(config))
    assert bad.returncode == 2 and "deck.refresh" in bad.stderr
    assert "\x1b" not in bad.stderr and "[31mfast" in bad.stderr  # the value shown, its escape not sent
