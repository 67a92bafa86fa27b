"""The Markdown checklist parser: real teams' launch docs, hand-made nasty files, and stable ids."""

import re
from collections import Counter
from pathlib import Path

import pytest

from launchdeck.checklists.parser import (
    _parse,
    PHASES,
    Checklist,
    ChecklistError,
    ChecklistItem,
    default_checklists,
    item_to_json,
    load_checklist,
    parse_checklist,
    phase_of,
)

DATA = Path(__file__).parent / "data" / "checklists"
SEEDS = Path(__file__).parent / "data" / "seeds"  # copies of shared/seeds, so a clone tests the same bytes
VERIFY_FORMS = {"services.all_ok", "backups.age < 26h", "traffic.error_ratio < 1% for 15m",
                "traffic.p95 < 500ms for 15m", "containers.all_ok"}


def seed(name: str) -> Checklist:
    path = SEEDS / name
    if not path.is_file():
        pytest.fail(f"seed document {path} is missing: copy it from shared/seeds")
    return load_checklist(path)


def fixture(name: str) -> Checklist:
    return load_checklist(DATA / name)


def by_text(checklist: Checklist, text: str) -> ChecklistItem:
    found = [item for item in checklist.items if item.text == text]
    assert len(found) == 1, f"{text!r} found {len(found)} times"
    return found[0]


def texts(checklist: Checklist) -> list[str]:
    return [item.text for item in checklist.items]


def fenced_lines(text: str) -> set[int]:
    """1-based line numbers inside ``` fences, found independently of the parser."""
    inside, lines = False, set()
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith("```"):
            inside = not inside
        elif inside:
            lines.add(number)
    return lines


# --- real launch documents ----------------------------------------------------------------------

def test_seed_000_launch_checklist_has_15_pre_8_day_7_post():
    checklist = seed("000_9ec6b6209b8fe2a1.txt")
    launch = [item for item in checklist.items if "Launch Checklist" in item.section]
    assert Counter(item.phase for item in launch) == {"pre-launch": 15, "launch-day": 8, "post-launch": 7}
    assert {item.section for item in launch} == {
        ("Production Launch Design Document", "Deployment Architecture", "Launch Checklist", label)
        for label in ("Pre-Launch Tasks", "Launch Day Tasks", "Post-Launch Tasks")}
    assert checklist.title == "Production Launch Design Document"
    # the security and performance audits are bold-labelled "Pre-Launch ... Audit": 18 + 13 more
    assert len(checklist.items) == 61 and len(checklist.by_phase("pre-launch")) == 46
    deploy = by_text(checklist, "Deploy to production")
    assert deploy.phase == "launch-day" and deploy.level == 0 and not deploy.checked and deploy.line == 1001


def test_seed_004_phases_nesting_and_fenced_commands():
    checklist = seed("004_a3cd84a06865aba7.txt")
    text = Path(checklist.source).read_text(encoding="utf-8")
    items = checklist.items
    assert len(items) == 126
    assert Counter(item.phase for item in items) == {"pre-launch": 33, "launch-day": 56, "post-launch": 37}
    # PRE-DEPLOYMENT CHECKLIST: 16 top-level + 11 nested, all pre-launch
    pre = [item for item in items if "PRE-DEPLOYMENT CHECKLIST" in item.section]
    assert len(pre) == 27 and sum(item.level == 1 for item in pre) == 11
    assert {item.phase for item in pre} == {"pre-launch"}
    # DEPLOYMENT CHECKLIST: the nearest heading wins, so "7. Pre-Deployment Verification" is pre-launch
    # and "9. Post-Deployment Verification" post-launch; 8, 10, 11, 12 are launch-day
    day = Counter(item.phase for item in items if "DEPLOYMENT CHECKLIST" in item.section)
    assert day == {"pre-launch": 6, "launch-day": 40, "post-launch": 12}
    post = [item for item in items if "POST-DEPLOYMENT CHECKLIST" in item.section]
    assert len(post) == 25 and {item.phase for item in post} == {"post-launch"}
    # rollback and sign-off sections only have the title "PRODUCTION DEPLOYMENT CHECKLIST" to go by
    assert Counter(item.section[1] for item in items if item.section[1] in (
        "ROLLBACK CHECKLIST (IF NEEDED)", "SIGN-OFF")) == {"ROLLBACK CHECKLIST (IF NEEDED)": 12, "SIGN-OFF": 4}

    env = by_text(checklist, "Update .env File")
    children = [item for item in items if item.parent == env.id]
    assert len(children) == 9 and children[0].text == "Set ENVIRONMENT=production"
    assert {item.level for item in children} == {1} and children[0].section == env.section
    immediate = by_text(checklist, "Immediate Actions")
    ordered = [item.text for item in items if item.parent == immediate.id]
    assert ordered == ["Stop accepting new traffic", "Restore previous version", "Restore database (if schema changed)"]

    # commands in the fenced bash blocks under items never become items or item text
    assert by_text(checklist, "Generate Production Secrets").text == "Generate Production Secrets"
    assert not any(re.search(r"pip install|alembic|docker-compose|trivy|pg_dump|psql", t) for t in texts(checklist))
    assert not {item.line for item in items} & fenced_lines(text)
    # "**Status:** [ ] Successful ..." is a paragraph and the ✅ success criteria are plain bullets
    assert not any("Successful" in t or "Health endpoint returns 200" in t for t in texts(checklist))


def test_seed_002_task_lists_inside_fences_are_not_items():
    checklist = seed("002_ef897929c8374c22.txt")
    assert "Connect to VPS via SSH" in texts(checklist)
    for fenced in ("Strong passwords enforced", "Final health check", "Monitor daily", "All services are running"):
        assert fenced not in texts(checklist)


# --- hand-made nasty files ----------------------------------------------------------------------

def test_nesting_levels_parents_and_markers():
    checklist = fixture("nesting.md")
    top, second, third, fourth = (by_text(checklist, t) for t in
                                  ("Top task", "Second level", "Third level", "Fourth level"))
    assert [i.level for i in (top, second, third, fourth)] == [0, 1, 2, 3]
    assert (second.parent, third.parent, fourth.parent) == (top.id, second.id, third.id)
    assert top.parent is None and not top.checked and second.checked and third.checked  # [x] and [X]
    assert {i.section for i in (top, second, third, fourth)} == {("Nesting ✨", "Pre-launch")}

    plain_children = [item for item in checklist.items if item.text == "Child of a plain item"]
    assert [(c.level, c.parent) for c in plain_children] == [(1, None), (1, None)]
    assert plain_children[0].id != plain_children[1].id  # the plain parents' texts tell them apart
    assert "~" not in plain_children[1].id
    assert by_text(checklist, "Grandchild").parent == plain_children[0].id

    nested = by_text(checklist, "Ordered nested")
    assert nested.parent == by_text(checklist, "Ordered second").id and by_text(checklist, "Ordered second").checked
    assert {"Ordered first", "Star bullet", "Plus bullet"} <= set(texts(checklist))


def test_item_text_is_the_first_paragraph_as_plain_text():
    checklist = fixture("nesting.md")
    assert by_text(checklist, "Item with a continuation line and another one").line == 19
    assert "Item with a code block" in texts(checklist)
    assert "Item with a sub paragraph" in texts(checklist)
    assert not any("not an item" in t or "More detail" in t or "second paragraph" in t for t in texts(checklist))
    assert "Bold code and a link an image & *stars*" in texts(checklist)
    for not_a_task in ("not a task", "escaped", "[y]", "[]"):
        assert not any(not_a_task in t for t in texts(checklist))
    assert len(checklist.items) == 18


def test_a_nested_item_inherits_its_parents_phase_not_a_label_inside_it():
    checklist = fixture("nesting.md")
    child = by_text(checklist, "Child inherits the parent phase")
    assert child.phase == "pre-launch" and child.section == ("Nesting ✨", "Pre-launch", "After launch")
    assert child.parent == by_text(checklist, "Parent stays pre-launch").id


def test_fences_indented_code_tables_and_html_never_yield_items():
    checklist = fixture("fences.md")
    assert texts(checklist) == ["Real item one", "Quoted task still counts", "Real item two"]
    assert {item.phase for item in checklist.items} == {"launch-day"}


def test_bold_labels_verify_comments_and_duplicates():
    checklist = fixture("labels.md")
    assert checklist.title == "🚀 Shop launch"
    fresh = [item for item in checklist.items if item.text == "Backups fresh"]
    assert [i.section for i in fresh] == [("🚀 Shop launch", "✅ Pre-Deployment", "Security"),
                                          ("🚀 Shop launch", "✅ Pre-Deployment", "Database")]
    assert [i.verify for i in fresh] == ["backups.age < 26h"] * 2  # inline, then on its own line
    assert fresh[0].id == "pre-launch/shop-launch.pre-deployment.security/backups-fresh"
    error_rate = by_text(checklist, "Error rate normal")
    assert error_rate.verify == "traffic.error_ratio < 1% for 15m" and error_rate.phase == "post-launch"
    watch = by_text(checklist, "Watch p95 closely")
    assert watch.verify == "traffic.p95 < 500ms for 15m"
    assert by_text(checklist, "Plain comment stays out").verify is None
    assert by_text(checklist, "Secrets rotated").verify is None
    assert by_text(checklist, "Deploy the release").phase == "launch-day"  # before the label: heading Go-Live
    assert by_text(checklist, "Still under the after-launch label").phase == "post-launch"
    assert by_text(checklist, "Unphased item").phase == "other"

    smoke = [item for item in checklist.items if item.text == "Run smoke tests"]
    assert [i.phase for i in smoke] == ["pre-launch", "post-launch", "post-launch"]
    # adjacent twins: nothing but their rank tells them apart, so they are marked and cannot be signed
    assert [i.ambiguous for i in smoke] == [False, True, True]
    assert smoke[1].id.endswith("~1") and smoke[2].id.endswith("~2") and "~" not in smoke[0].id
    assert checklist.problems == (f"{DATA / 'labels.md'}: lines 24, 25: “Run smoke tests” is several items that "
                                  "nothing tells apart; they cannot be signed until each has its own <!-- id: name -->",)
    assert len({item.id for item in checklist.items}) == len(checklist.items)


def test_crlf_and_bom_parse_like_lf(tmp_path):
    for name in ("labels.md", "nesting.md", "fences.md"):
        text = (DATA / name).read_text(encoding="utf-8")
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
        assert b"\r\n" in path.read_bytes()
        crlf, lf = load_checklist(path), parse_checklist(text, str(path))
        assert crlf.items == lf.items and crlf.title == lf.title
        assert all("\r" not in item.text and "\r" not in (item.verify or "") for item in crlf.items)


# --- phases -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "phase"), [
    ("PRE-DEPLOYMENT CHECKLIST", "pre-launch"), ("POST-DEPLOYMENT CHECKLIST", "post-launch"),
    ("DEPLOYMENT CHECKLIST", "launch-day"), ("Pre-Launch Tasks", "pre-launch"), ("Prelaunch", "pre-launch"),
    ("pre_deploy.md", "pre-launch"), ("⚠️ Before Starting", "pre-launch"), ("Pre\u2011launch", "pre-launch"),
    ("Launch Day Tasks", "launch-day"), ("🚀 Go-Live", "launch-day"), ("go live", "launch-day"),
    ("Cutover", "launch-day"), ("Deploy day", "launch-day"), ("launch-day.md", "launch-day"),
    ("Week 1 Post-Launch", "post-launch"), ("First week", "post-launch"), ("After launch", "post-launch"),
    ("Day 2 operations", "post-launch"),
    ("Launch Checklist", None), ("Launch Tasks", None), ("Production Deployment", None),
    ("Subtask 8.1.3: PostgreSQL Setup (Day 2)", None), ("Code Deployment (Day 1)", None),
    ("Afterwards", None), ("Beforehand", None), ("", None),
])
def test_phase_keywords(text, phase):
    assert phase_of(text) == phase


def test_explicit_phase_overrides_and_file_name():
    text = "# Runbook\n## Notes\n- [ ] a\n## Go-Live\n- [ ] b\n  - [ ] c\n"
    assert [i.phase for i in parse_checklist(text).items] == ["other", "launch-day", "launch-day"]
    assert [i.phase for i in parse_checklist(text, "post-launch.md").items] == ["post-launch", "launch-day",
                                                                                "launch-day"]
    forced = parse_checklist(text, "x.md", phase="pre-launch")
    assert {i.phase for i in forced.items} == {"pre-launch"} and forced.items[0].id.startswith("pre-launch/")
    overridden = parse_checklist(text, overrides={"notes": "post-launch", "GO-LIVE": "pre-launch"})
    assert [i.phase for i in overridden.items] == ["post-launch", "pre-launch", "pre-launch"]
    with pytest.raises(ValueError, match="unknown phase"):
        parse_checklist(text, phase="launch")
    with pytest.raises(ValueError, match="unknown phase"):
        parse_checklist(text, overrides={"Notes": "later"})


def test_title_falls_back_to_the_file_stem():
    assert parse_checklist("- [ ] a\n", "ops/go-live.md").title == "go-live"
    assert parse_checklist("- [ ] a\n", "ops/go-live.md").items[0].id == "launch-day/_/a"


# --- ids ----------------------------------------------------------------------------------------

BASE = """# Launch
## Pre-launch
- [ ] Backups verified <!-- verify: backups.age < 26h -->
- [ ] Security review done
  - [ ] Pen test booked
## Launch day
- [ ] Deploy to production
- [ ] Run smoke tests
- [ ] Check dashboards
- [ ] Run smoke tests
"""

EDITED = """# Launch

Intro paragraph added later, with a [link](https://example.com).

## Pre-launch
- [ ] A brand new first item
- [ ] Security review done

  Some notes added under the item.

  - [ ] Pen test booked
  - [ ] A new sibling
- [ ] Backups verified <!-- verify: backups.age < 26h -->

## A new section
- [ ] Deploy to staging

## Launch day

**Note**: added text that is not a label

- [ ] Announce the window
- [ ] Deploy to production
- [ ] Run smoke tests
- [ ] A new check in between
- [ ] Check dashboards
- [ ] Run smoke tests
"""


def test_ids_survive_unrelated_edits_and_reordering():
    before, after = parse_checklist(BASE, "launch.md"), parse_checklist(EDITED, "launch.md")
    assert [i.line for i in before.items] != [after.get(i.id).line for i in before.items]
    for item in before.items:
        moved = after.get(item.id)
        assert moved is not None, item.id
        assert (moved.text, moved.phase, moved.section, moved.parent) == (item.text, item.phase, item.section,
                                                                           item.parent)
    assert before.get("launch-day/launch.launch-day/deploy-to-production").text == "Deploy to production"
    assert before.get("pre-launch/launch.pre-launch.security-review-done/pen-test-booked").level == 1


def test_case_and_emphasis_edits_keep_the_id_but_change_the_text():
    before = parse_checklist(BASE, "launch.md")
    after = parse_checklist(BASE.replace("Deploy to production", "**deploy** to `Production`!"), "launch.md")
    old, new = before.items[3], after.items[3]
    assert old.id == new.id and old.text == "Deploy to production" and new.text == "deploy to Production!"


def test_long_texts_are_capped_with_a_hash():
    long_a = "Verify " + "that everything is configured " * 4 + "alpha"
    long_b = "Verify " + "that everything is configured " * 4 + "beta"
    checklist = parse_checklist(f"## {'Very long heading words ' * 5}\n- [ ] {long_a}\n- [ ] {long_b}\n")
    a, b = checklist.items
    assert a.id != b.id and "~" not in b.id
    for part in a.id.split("/")[1:]:
        assert re.fullmatch(r"[a-z0-9-]{1,48}-[0-9a-f]{6}", part), part
    assert len(parse_checklist("- [ ] 🚀\n- [ ] 🚀\n").items[1].id.split("/")[-1]) > 0


# --- API surface --------------------------------------------------------------------------------

def test_by_phase_get_and_json():
    checklist = parse_checklist(BASE, "launch.md")
    assert [i.text for i in checklist.by_phase("launch-day")] == ["Deploy to production", "Run smoke tests",
                                                                  "Check dashboards", "Run smoke tests"]
    assert checklist.by_phase("post-launch") == () and checklist.get("nope") is None
    backups = checklist.items[0]
    assert item_to_json(backups) == {
        "id": "pre-launch/launch.pre-launch/backups-verified", "text": "Backups verified", "phase": "pre-launch",
        "section": ["Launch", "Pre-launch"], "level": 0, "checked": False, "verify": "backups.age < 26h",
        "line": 3, "parent": None}
    with pytest.raises(AttributeError):
        backups.text = "changed"  # frozen


def test_unreadable_files_raise_checklist_error(tmp_path):
    missing = tmp_path / "missing.md"
    with pytest.raises(ChecklistError, match=f"^{re.escape(str(missing))}: "):
        load_checklist(missing)
    latin1 = tmp_path / "latin1.md"
    latin1.write_bytes("- [ ] caf\xe9\n".encode("latin-1"))
    with pytest.raises(ChecklistError, match="not UTF-8"):
        load_checklist(latin1)
    with pytest.raises(ChecklistError, match=re.escape(str(tmp_path))):
        load_checklist(tmp_path)


def test_default_checklists_are_one_per_phase_with_known_verify_forms():
    checklists = default_checklists()
    assert [c.source for c in checklists] == ["pre-launch.md", "launch-day.md", "post-launch.md"]
    for checklist, phase in zip(checklists, PHASES):
        assert checklist.items and {item.phase for item in checklist.items} == {phase}
        assert all(item.id.startswith(phase + "/") for item in checklist.items)
        verifies = {item.verify for item in checklist.items if item.verify}
        assert verifies and verifies <= VERIFY_FORMS
    sizes = [len(c.items) for c in checklists]
    assert 15 <= sizes[0] <= 25 and 10 <= sizes[1] <= 15 and 8 <= sizes[2] <= 12
    assert {i.verify for c in checklists for i in c.items if i.verify} == VERIFY_FORMS


def big_checklist(items: int) -> str:
    lines = ["# Big launch"]
    for n in range(items):
        if n % 40 == 0:
            lines += ["", f"## {('Pre-launch', 'Launch day', 'Post-launch')[n // 40 % 3]} block {n // 40}", ""]
            if n % 400 == 0:
                lines += ["```", "- [ ] not an item", "```"]
        if n % 40 == 39:
            lines.append(f"  - [x] Step {n} with `code` and *emphasis*")
        else:
            lines.append(f"- [ ] Check host-{n % 997} answers")  # repeats: twins in other blocks only
    return "\n".join(lines) + "\n"


def test_a_50000_item_checklist_gives_every_item_one_unique_id():
    text = big_checklist(50_000)
    checklist = parse_checklist(text, "big.md")
    assert len(checklist.items) == 50_000 and checklist.problems == ()
    assert len({item.id for item in checklist.items}) == 50_000
    first, last = checklist.items[0], checklist.items[-1]
    assert first.id == "pre-launch/big-launch.pre-launch-block-0/check-host0-answers" and first.line == 8
    assert (last.text, last.level, last.checked) == ("Step 49999 with code and emphasis", 1, True)
    assert last.parent == checklist.items[-2].id
    assert [item.phase for item in checklist.items[38:42]] == ["pre-launch"] * 2 + ["launch-day"] * 2
    # the same file read by markdown-it alone (a slice: it takes ~0.3 ms an item) gives the same items
    head = "\n".join(text.splitlines()[:2500]) + "\n"
    assert _parse(head, "big.md") == _parse(head, "big.md", fast=False)
