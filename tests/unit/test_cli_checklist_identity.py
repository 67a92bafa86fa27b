"""The CLI keeps sign-offs on the item that was signed: `signoff add --config` records the file by its
path relative to the config, `checklist show` says which items cannot be signed, and `report` shows
what an item said when it was signed and which items and records are ambiguous."""

import json

from click.testing import CliRunner

from launchdeck.cli.checklists import checklist, report, signoff

TWINS = "# Launch\n## Launch day\n- [ ] Deploy\n- [ ] Deploy\n- [ ] Smoke [eu] | us <!-- id: smoke -->\n"


def invoke(command, *args):
    return CliRunner().invoke(command, [str(a) for a in args])


def deck(tmp_path, files, text):
    (tmp_path / "launchdeck.toml").write_text(
        '[deck]\nname = "shop"\n[checklists]\nfiles = [' + ", ".join(f'"{f}"' for f in files)
        + ']\nledger = "signoff.jsonl"\n')
    for name, body in text.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    return tmp_path / "launchdeck.toml"


def test_signoff_add_with_a_config_keys_the_file_by_its_path_so_two_teams_never_merge(tmp_path, monkeypatch):
    config = deck(tmp_path, ["teamA/launch.md", "teamB/launch.md"],
                  {"teamA/launch.md": "## Launch day\n- [ ] Deploy\n",
                   "teamB/launch.md": "## Launch day\n- [ ] Deploy\n- [ ] Warm caches\n"})
    shown = json.loads(invoke(checklist, "show", tmp_path / "teamA/launch.md", "--json").output)
    deploy = shown["items"][0]["id"]
    monkeypatch.chdir(tmp_path / "teamA")  # the path as typed is relative to where the shell is
    added = invoke(signoff, "add", tmp_path / "signoff.jsonl", deploy, "--checklist", "launch.md",
                   "--config", config, "--note", "v2 out")
    assert added.exit_code == 0, added.output
    [line] = (tmp_path / "signoff.jsonl").read_text().splitlines()
    assert json.loads(line)["checklist"] == "teamA/launch.md"
    document = json.loads(invoke(report, "--config", config, "--format", "json").output)
    items = [(i["checklist"], i["text"], i["status"]) for i in document["phases"][0]["items"]]
    assert items == [("teamA/launch.md", "Deploy", "signed"), ("teamB/launch.md", "Deploy", "open"),
                     ("teamB/launch.md", "Warm caches", "open")]
    assert document["ambiguous"] == [] and document["orphans"] == []


def test_signoff_add_with_a_config_and_a_file_it_does_not_list_keys_it_relative_to_the_config(tmp_path):
    config = deck(tmp_path, ["launch.md"], {"launch.md": "## Launch day\n- [ ] Deploy\n",
                                            "extra/launch.md": "## Launch day\n- [ ] Deploy\n"})
    deploy = json.loads(invoke(checklist, "show", tmp_path / "extra/launch.md", "--json").output)["items"][0]["id"]
    added = invoke(signoff, "add", tmp_path / "signoff.jsonl", deploy, "--checklist", tmp_path / "extra/launch.md",
                   "--config", config)
    assert added.exit_code == 0, added.output
    assert json.loads((tmp_path / "signoff.jsonl").read_text())["checklist"] == "extra/launch.md"
    document = json.loads(invoke(report, "--config", config, "--format", "json").output)
    assert document["phases"][0]["items"][0]["status"] == "open"  # not merged into the configured launch.md
    assert [o["checklist"] for o in document["orphans"]] == ["extra/launch.md"]


def test_checklist_show_prints_the_authors_problems_and_flags_twins(tmp_path):
    (tmp_path / "launch.md").write_text(TWINS)
    shown = invoke(checklist, "show", tmp_path / "launch.md")
    assert shown.exit_code == 0
    lines = shown.output.splitlines()
    problems = [line for line in lines if line.startswith("!! ")]
    assert len(problems) == 1 and "Deploy" in problems[0]
    twins = [line for line in lines if "identical twin" in line]
    assert len(twins) == 2 and all("<!-- id: name -->" in line for line in twins)
    assert not any("identical twin" in line for line in lines if "id:smoke" in line)
    document = json.loads(invoke(checklist, "show", tmp_path / "launch.md", "--json").output)
    assert [i["ambiguous"] for i in document["items"]] == [True, True, False]
    assert document["problems"] == [problems[0].removeprefix("!! ")]


def test_report_shows_the_text_that_was_signed_and_lists_ambiguous_items_and_records(tmp_path):
    config = deck(tmp_path, ["launch.md"], {"launch.md": "# Launch\n## Launch day\n- [ ] Deploy\n"
                                                         "- [ ] Smoke [eu] | us <!-- id: smoke -->\n"})
    ledger = tmp_path / "signoff.jsonl"
    ids = {i["text"]: i["id"] for i in json.loads(invoke(checklist, "show", tmp_path / "launch.md",
                                                         "--json").output)["items"]}
    for text in ("Deploy", "Smoke [eu] | us"):
        assert invoke(signoff, "add", ledger, ids[text], "--checklist", tmp_path / "launch.md",
                      "--config", config).exit_code == 0
    (tmp_path / "launch.md").write_text(TWINS.replace("Smoke [eu] | us", "Smoke [eu] | us ~ asia"))
    markdown = invoke(report, "--config", config)
    assert markdown.exit_code == 0, markdown.output
    smoke = next(line for line in markdown.output.splitlines() if "Smoke" in line)
    assert smoke.startswith("- [x] Smoke \\[eu\\] \\| us \\~ asia — signed by ")
    assert smoke.endswith(" **changed since signed** (signed as “Smoke \\[eu\\] \\| us”)")
    assert "## Identical items that cannot be signed" in markdown.output
    assert len([line for line in markdown.output.splitlines() if line.startswith("- launch.md:") and "“Deploy”" in line]) == 2
    assert "## Records that could be for several items (counted on none)" in markdown.output
    deploys = [line for line in markdown.output.splitlines() if line.startswith("- [ ] Deploy")]
    assert len(deploys) == 2 and all("claimed by 1 sign-off(s)" in line for line in deploys)
    document = json.loads(invoke(report, "--config", config, "--format", "json").output)
    items = {i["text"]: i for i in document["phases"][0]["items"]}
    assert items["Smoke [eu] | us ~ asia"]["changes"] == "signed as “Smoke [eu] | us”"
    assert items["Smoke [eu] | us ~ asia"]["signed_text"] == "Smoke [eu] | us"
    assert [i["ambiguous"] for i in document["phases"][0]["items"]] == [True, True, False]
    [record] = document["ambiguous"]
    assert record["item_text"] == "Deploy" and len(record["candidates"]) == 2
    assert all(len(i["claims"]) == 1 for i in document["phases"][0]["items"][:2])
