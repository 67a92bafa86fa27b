"""`launchdeck report` carries the launch timeline: the flight recording's events and the ledger's records."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from launchdeck.audit.chain import check_ledger
from launchdeck.cli import main
from launchdeck.core.model import Status
from launchdeck.engine.events import EventLog
from launchdeck.engine.recorder import RECORD_NAME, Recorder
from launchdeck.engine.timeline_report import ledger_events

CHECKLIST = "# Launch\n## Launch day\n- [ ] Deploy to production\n"
CONFIG = '[deck]\nname = "shop"\n[checklists]\nfiles = ["launch.md"]\nledger = "signoff.jsonl"\n'
KEYS = {"time", "panel", "target", "kind", "text", "severity"}


def deck(tmp_path):
    (tmp_path / "launch.md").write_text(CHECKLIST)
    config = tmp_path / "launchdeck.toml"
    config.write_text(CONFIG)
    runner = CliRunner()
    shown = json.loads(runner.invoke(main, ["checklist", "show", str(tmp_path / "launch.md"), "--json"]).output)
    signed = runner.invoke(main, ["signoff", "add", str(tmp_path / "signoff.jsonl"), shown["items"][0]["id"],
                                  "--checklist", str(tmp_path / "launch.md"), "--config", str(config),
                                  "--note", "*done* [b]x[/b]"])
    assert signed.exit_code == 0, signed.output
    return config


def record(tmp_path, with_ledger_events: bool) -> datetime:
    """A recording beside the ledger: a breach before the sign-off and a recovery after it."""
    signed_at = datetime.fromisoformat(check_ledger(tmp_path / "signoff.jsonl").records[0].time.replace("Z", "+00:00"))
    log = EventLog()
    log.add(signed_at - timedelta(minutes=5), "services", "checkout", "breach", Status.CRIT,
            "ok → crit: HTTP 503 [red]<b>boom</b>")
    if with_ledger_events:  # the dashboard logs the ledger's records as it reads them: listed once
        for event in ledger_events(check_ledger(tmp_path / "signoff.jsonl").records):
            log.add(event.time, event.panel, event.target, event.kind, event.severity, event.text)
    log.add(signed_at + timedelta(minutes=5), "services", "checkout", "recovery", Status.OK, "crit → ok")
    recorder = Recorder(tmp_path / RECORD_NAME).start(log)
    recorder.close()
    return signed_at


def report(config, fmt: str):
    return CliRunner().invoke(main, ["report", "--config", str(config), "--format", fmt])


def test_json_report_has_the_timeline_with_time_panel_target_kind_text(tmp_path):
    config = deck(tmp_path)
    signed_at = record(tmp_path, with_ledger_events=True)
    result = report(config, "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    timeline = document["timeline"]
    assert all(set(entry) == KEYS for entry in timeline)
    assert [(e["kind"], e["panel"], e["target"]) for e in timeline] == [
        ("breach", "services", "checkout"), ("sign", "checklists", "launch.md"), ("recovery", "services", "checkout")]
    assert timeline[1]["time"] == signed_at.isoformat() and "*done* [b]x[/b]" in timeline[1]["text"]
    assert timeline[0]["text"] == "ok → crit: HTTP 503 [red]<b>boom</b>" and timeline[0]["severity"] == "crit"
    assert document["recording"]["path"] == str(tmp_path / RECORD_NAME) and document["recording"]["problem"] is None


def test_without_a_recording_the_timeline_is_the_ledger_and_says_so(tmp_path):
    config = deck(tmp_path)
    document = json.loads(report(config, "json").output)
    assert [e["kind"] for e in document["timeline"]] == ["sign"]
    assert "no recording yet" in document["recording"]["problem"]


def test_markdown_report_has_a_timeline_section_with_people_text_escaped(tmp_path):
    config = deck(tmp_path)
    record(tmp_path, with_ledger_events=False)
    (tmp_path / RECORD_NAME).write_text((tmp_path / RECORD_NAME).read_text() + "{torn\n")
    result = report(config, "md")
    assert result.exit_code == 0, result.output
    section = result.output.split("## Timeline (3 events)", 1)[1]
    assert "1 unreadable line(s) skipped" in section
    lines = [line for line in section.splitlines() if line.startswith("- ")]
    assert len(lines) == 3
    assert "**crit** services/checkout breach: ok → crit: HTTP 503 \\[red\\]\\<b\\>boom\\</b\\>" in lines[0]
    assert "\\*done\\* \\[b\\]x\\[/b\\]" in lines[1] and "**ok** checklists/launch.md sign" in lines[1]


def test_a_directory_as_the_recording_is_said_and_the_report_goes_on(tmp_path):
    config = deck(tmp_path)
    (tmp_path / RECORD_NAME).mkdir()
    result = report(config, "json")
    assert result.exit_code == 0
    assert "is a directory" in json.loads(result.output)["recording"]["problem"]
