"""Any text people can put in the ledger (a note, an item's text, a checklist name, an item id; control
characters, escape sequences, Rich markup, Markdown, line breaks) round-trips through append, read,
report and verify: nothing crashes, the chain verifies, JSON gives back the exact text, and neither
the Markdown report nor the CLI's text output carries a control character but the line break."""

import json
import re
import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from launchdeck.audit.chain import check_ledger
from launchdeck.audit.ledger import Ledger, Operator, verify
from launchdeck.checklists.parser import load_checklist
from launchdeck.checklists.report import report_json, report_markdown
from launchdeck.checklists.state import Board
from launchdeck.cli.checklists import signoff

# every C0 control but the line break, DEL, and the C1 controls a terminal may obey as CSI/OSC
FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f\x80-\x9f]")
HOSTILE = st.sampled_from(["[/]", "[/x]", "[red]x[/red]", "[bold", "\x1b[2J", "\x1b]0;pwn\x07", "\x9b31m",
                           "\n- [x] Security review — signed by ciso", "\r\n", "\u202e", "**", "`", "<b>", "\\"])
TEXT = st.lists(st.one_of(st.text(), HOSTILE), max_size=4).map("".join)
OPERATOR = Operator("ops [/]\x1b[2J", 1000, "deck\n- [x] forged", None)


def clean(output: str) -> bool:
    return FORBIDDEN.search(output) is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(note=TEXT, item_text=TEXT, checklist=TEXT, item_id=TEXT, title=TEXT)
def test_any_text_round_trips_through_append_report_and_verify(note, item_text, checklist, item_id, title):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "launch.md").write_text("# Launch\n## Pre-launch\n- [ ] Deploy\n")
        parsed = load_checklist(tmp / "launch.md")
        (name, deploy_id), state = next(iter(Board.build([parsed]).states.items()))
        path = tmp / "signoff.jsonl"
        ledger = Ledger(path, operator=OPERATOR)
        signed = ledger.append(checklist=name, item_id=deploy_id, item_text=state.item.text, kind="sign", reason=note)
        other = ledger.append(checklist=checklist, item_id=item_id, item_text=item_text, kind="waive",
                              reason=note + "x")  # a reason must not be blank
        assert ledger.records() == [signed, other] == check_ledger(path).records
        result = verify(path)
        assert result.ok and result.records == 2 and result.head == other.hash

        checked = check_ledger(path)
        board = Board.build([parsed], checked.records)
        document = json.loads(report_json(board, title, checked, path))
        item = document["phases"][0]["items"][0]
        assert (item["status"], item["note"], document["title"]) == ("signed", note, title)
        if (checklist, item_id) != (name, deploy_id):
            assert [(o["item_text"], o["item_id"], o["checklist"]) for o in document["orphans"]] == [
                (item_text, item_id, checklist)]
        assert document["ledger"]["ok"] and document["ledger"]["head"] == other.hash

        markdown = report_markdown(board, title, checked, path)
        assert clean(markdown)
        assert "\n- [x] Security review" not in markdown  # a note never starts a line of its own
        lines = markdown.split("\n")
        assert sum(line.startswith("- [") for line in lines) == 1  # the one item; orphans start "- waive"

        runner = CliRunner()
        for args in (["list", str(path)], ["verify", str(path)], ["list", "--json", str(path)]):
            ran = runner.invoke(signoff, args)
            assert ran.exit_code == 0 and ran.exception is None, (args, ran.output)
            assert clean(ran.output), (args, ran.output)
        listed = json.loads(runner.invoke(signoff, ["list", "--json", str(path)]).output)
        assert [r["reason"] for r in listed] == [note, note + "x"] and listed[1]["item_text"] == item_text
