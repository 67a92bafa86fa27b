"""A line scanner for the plain parts of a checklist, so a 50,000-item file parses in well under 2 s.

markdown-it-py spends about 100 µs per list item (5 s for 50,000), nearly all of it on lines whose
structure is obvious: `## heading`, `- [ ] text`, blank lines. This module reads exactly those
shapes and nothing else; a section with anything more (a fence, HTML, emphasis, an entity, a
lazy continuation, a tab, an ordered list...) goes to markdown-it whole. What it accepts must give
the same items as markdown-it: tests/unit/test_properties_checklists.py checks that on generated
documents, so the design rule "structure comes from the CommonMark tree" still holds.

Sections: a document is cut before each ATX heading at column 0. Such a line closes every open
list, quote and paragraph; it can only sit inside a fenced code block or an HTML block started at
the top level, so once a line could start one (three backticks or tildes, or `<`, indented at most
3 spaces) the rest of the document stays one section. A document with a link reference definition
(`]:`) is never cut: a definition anywhere changes how `[x]` reads everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Characters with a meaning inside a CommonMark paragraph (escapes, code, emphasis, links, images,
# HTML, entities); any of them, a control character or non-space whitespace sends the section away.
_SPECIAL = r"\\`*_\[\]!<&\x00-\x1f\x7f-\x9f"
_PLAIN = rf"[^{_SPECIAL}\s]"
_TEXT = rf"{_PLAIN}(?:(?:{_PLAIN}| )*{_PLAIN})?"
_COMMENT = r"<!--(?: (?:[^\-\n\x00-\x1f]|-(?!-))*)-->"
_HEADING = re.compile(rf"(#{{1,6}}) +({_TEXT}) *")
_ITEM = re.compile(rf"((?:  )*)[-*+] (?:\[([ xX])\] +)?({_TEXT})((?: +{_COMMENT})*) *")
_LABEL = re.compile(rf"\*\*({_TEXT})\*\*( *:)? *")
_PARAGRAPH = re.compile(rf"(?=[^\W\d_]){_TEXT} *")  # a letter first: no block starts with one
_CUT = re.compile(r"#{1,6}(?:[ \t]|$)")
_OPENER = re.compile(r" {0,3}(?:```|~~~|<)")
_WHOLE_COMMENT = re.compile(r"<!--.*?-->")


@dataclass(frozen=True)
class Line:
    """One line the scanner understood: a heading, a label, an item, a paragraph or a blank."""
    kind: str  # heading | label | item | paragraph | blank
    number: int  # 0-based line in the document
    level: int = 0  # heading level, or item depth
    text: str = ""  # heading text, label, or item text without the task marker
    mark: str | None = None  # " ", "x" or "X" for a task item; None for a plain item
    comments: tuple[str, ...] = ()  # the item's trailing <!-- ... --> comments, whole


def normalise_source(text: str) -> str:
    """What markdown-it does first: CR LF and lone CR become LF, NUL becomes U+FFFD."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")


def sections(lines: list[str]) -> list[tuple[int, int]]:
    """(start, end) line ranges, each after the first starting with a top-level ATX heading."""
    if any("]:" in line for line in lines):
        return [(0, len(lines))]
    cuts, start = [], 0
    for number, line in enumerate(lines):
        if _OPENER.match(line):
            break
        if number and _CUT.match(line):
            cuts.append((start, number))
            start = number
    cuts.append((start, len(lines)))
    return cuts


def scan(lines: list[str], start: int, end: int) -> list[Line] | None:
    """The lines of one section if every one has a shape read here, else None (use markdown-it)."""
    out: list[Line] = []
    depth = -1  # depth of the innermost open list item; -1 when no list is open
    previous = "blank"  # what the line before was: blank, heading, paragraph, label or item
    for number in range(start, end):
        line = lines[number]
        if not line.strip(" "):
            out.append(Line("blank", number))
            previous = "blank"
            continue
        if line[0] == "#":
            match = _HEADING.fullmatch(line)
            if number != start or not match or match[2].endswith("#"):
                return None
            out.append(Line("heading", number, len(match[1]), match[2]))
            depth, previous = -1, "heading"
            continue
        match = _ITEM.fullmatch(line)
        if match:
            level = len(match[1]) // 2
            if level > depth + 1 or (previous not in ("blank", "heading", "item", "paragraph")):
                return None
            if previous == "paragraph" and level:
                return None  # an indented list cannot interrupt a top-level paragraph here
            if match[2] is None and not match[3][0].isalpha():
                return None  # a plain item starting with a digit or sign could hold a block
            comments = tuple(_WHOLE_COMMENT.findall(match[4])) if match[4] else ()
            if match[2] is None and comments:
                return None
            out.append(Line("item", number, level, match[3], match[2], comments))
            depth, previous = level, "item"
            continue
        if line[0] == " " or previous == "item" or previous == "label":
            return None  # indented text continues an item; unindented text after one is lazy
        if line.startswith("**"):
            match = _LABEL.fullmatch(line)
            if not match or previous == "paragraph":
                return None
            following = lines[number + 1] if number + 1 < end else ""
            if following.strip(" ") and not _ITEM.fullmatch(following):
                return None  # a second line would make it a paragraph, not a label
            out.append(Line("label", number, text=match[1]))
            depth, previous = -1, "label"
            continue
        if not _PARAGRAPH.fullmatch(line):
            return None
        out.append(Line("paragraph", number))
        depth, previous = -1, "paragraph"
    return out
