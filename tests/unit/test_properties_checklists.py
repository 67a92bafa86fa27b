"""Properties of the checklist parser over any text: it never crashes, ids are unique and stable,
what it yields shows no control character, and the line scanner reads exactly what markdown-it
reads (the scanner is only a faster way to the same items)."""

import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from launchdeck.checklists.parser import _parse, parse_checklist
from launchdeck.core.plain import visible
from launchdeck.tui.palette import styled

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# pieces Markdown gives meaning to, mixed with plain words, control characters and odd spaces
WORDS = st.sampled_from(["Deploy", "smoke", "tests", "db", "EU", "[ ]", "[x]", "*", "**", "_", "`", "\\", "<", ">",
                         "&amp;", "<!-- verify: services.all_ok -->", "<!-- id: a -->", "<!-- id: b -->", "]:", "#",
                         "\x1b[2J", "\x07", "\t", "\u00a0", "\u202e", "\x85", "é", "🚀", "1.", "-", "~~~", ":"])
LINE_STARTS = st.sampled_from(["", "- [ ] ", "- [x] ", "* [ ] ", "+ [X] ", "  - [ ] ", "    - [ ] ", "- ", "  - ",
                               "1. [ ] ", "## ", "# ", "### ", "**", "> ", "```", "~~~", "<div>", "   ", "\t- [ ] ",
                               "---", "===", "-  [ ] "])
LINE = st.builds(lambda start, words, end: start + " ".join(words) + end, LINE_STARTS,
                 st.lists(WORDS, max_size=5), st.sampled_from(["", " ", "  ", "**", "**:", " #", "\\"]))
DOCUMENT = st.lists(LINE, max_size=30).map("\n".join)
CONTROL = {chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}


def shown_clean(text: str) -> bool:
    return not (set(visible(text)) & CONTROL) and not (set(styled(text).plain) & CONTROL)


@SETTINGS
@given(st.one_of(st.text(), DOCUMENT))
def test_any_text_parses_with_unique_stable_ids_and_nothing_raw_on_screen(text):
    first = parse_checklist(text, "any.md")
    ids = [item.id for item in first.items]
    assert len(set(ids)) == len(ids)
    assert [item.id for item in parse_checklist(text, "any.md").items] == ids
    for item in first.items:
        assert item.text and shown_clean(item.text)
        assert all(shown_clean(heading) for heading in item.section)
        assert item.parent is None or item.parent in ids
    assert all(shown_clean(problem) for problem in first.problems)


@SETTINGS
@given(DOCUMENT)
def test_the_line_scanner_reads_what_markdown_it_reads(text):
    assert _parse(text, "doc.md") == _parse(text, "doc.md", fast=False)


@SETTINGS
@given(st.lists(st.sampled_from(["## Pre-launch", "## Launch day", "- [ ] Deploy", "- [ ] Deploy", "- [ ] Warm",
                                 "  - [ ] Deploy", "", "```", "- [ ] *Deploy*"]), max_size=25).map("\n".join))
def test_twins_and_fences_agree_with_markdown_it(text):
    fast = _parse(text, "doc.md")
    assert fast == _parse(text, "doc.md", fast=False)
    for item in fast.items:  # a twin is told apart by context, or marked: never a silent rank
        if "~" in item.id:
            assert item.ambiguous


def test_control_characters_in_item_text_are_kept_but_never_shown_raw():
    checklist = parse_checklist("## Day \x1b]0;pwned\x07\n- [ ] Deploy \x1b[2J now\n- [ ] \u202eevil\n")
    assert [i.text for i in checklist.items] == ["Deploy \x1b[2J now", "\u202eevil"]
    assert [visible(i.text) for i in checklist.items] == ["Deploy ␛[2J now", "\\u202eevil"]
    assert all(unicodedata.category(c) != "Cc" for i in checklist.items for c in styled(i.text).plain)


@SETTINGS
@given(st.text())
def test_the_slug_fast_path_gives_the_regex_slug_of_any_normalised_text(text):
    """Ids must not move with an optimisation: the ascii fast path agrees with the regex."""
    from launchdeck.checklists.parser import _normalise, _slug, _slug_of_normal

    normal = _normalise(text)
    assert _slug_of_normal(normal) == _slug(normal)
