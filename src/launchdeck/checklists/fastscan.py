"""A line scanner for the plain parts of a checklist, so a 50,000-item file parses in well under 2 s.

markdown-it-py spends about 100 µs per list item (5 s for 50,000), nearly all of it on lines whose
structure is obvious: `## heading`, `- [ ] text`, blank lines. This module reads exactly those
shapes and nothing else; a section with anything more (a fence, HTML, emphasis, an entity, a
lazy continuation, a tab, an ordered list...) goes to markdown-it whole. What it accepts must give
the same items as markdown-it: tests/unit/test_properties_checklists.py checks that on generated
documents, so the design rule "structure comes from the CommonMark tree" still holds.

Sections: a document is cut before each ATX heading at column 0. Such a line closes every open
list, quote and paragraph; it can only sit inside a fenced code block or an HTML block started at
the top level, so after a line that could start one (three backticks or tildes, or `<`, indented
at most 3 spaces) markdown-it confirms the next cut (see `sections`). A document with a link reference definition
(`]:`) is never cut: a definition anywhere changes how `[x]` reads everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

# Characters with a meaning inside a CommonMark paragraph (escapes, code, emphasis, links, images,
# HTML, entities); any of them, a control character or non-space whitespace sends the section away.
_SPECIAL = r"\\`*_\[\]!<&\x00-\x1f\x7f-\x9f"
_PLAIN = rf"[^{_SPECIAL}\s]"
_ODD_SPACE = r"\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"  # str.isspace() beyond C0/C1
_PLAIN_OR_SPACE = rf"[^{_SPECIAL}{_ODD_SPACE}]"  # one class, not an alternation: 2x faster to match
_TEXT = rf"{_PLAIN}(?:{_PLAIN_OR_SPACE}*{_PLAIN})?"
_COMMENT = r"<!--(?: (?:[^\-\n\x00-\x1f]|-(?!-))*)-->"
_HEADING = re.compile(rf"(#{{1,6}}) +({_TEXT}) *")
_ITEM = re.compile(rf"((?:  )*)[-*+] (?:\[([ xX])\] +)?({_TEXT})((?: +{_COMMENT})*) *")
_LABEL = re.compile(rf"\*\*({_TEXT})\*\*( *:)? *")
# A letter first: no block starts with one. What follows is inline (code, emphasis, links): it never
# changes a paragraph's block shape, and a paragraph's text holds no item, so any of it is read here.
_PARAGRAPH = re.compile(r"(?=[^\W\d_])[^\x00-\x1f\x7f-\x9f]*")
# An item whose text is plain apart from simple code spans (`chmod 600`): one backtick each side, no
# backtick, space or control character at either edge of the content, none next to another backtick.
# markdown-it takes such a span's content literally, so its text is the line without the backticks
# and the default checklists never need markdown-it (0.12 s to import) for the dashboard's first frame.
_CODE = rf"`[^`\s\x00-\x1f\x7f-\x9f](?:[^`\x00-\x1f\x7f-\x9f{_ODD_SPACE}]*[^`\s\x00-\x1f\x7f-\x9f])?`(?!`)"
_CODED_TEXT = rf"(?:{_PLAIN}|{_CODE})(?:(?:{_PLAIN_OR_SPACE}|{_CODE})*(?:{_PLAIN}|{_CODE}))?"
_CODED_ITEM = re.compile(rf"((?:  )*)[-*+] (?:\[([ xX])\] +)?({_CODED_TEXT})((?: +{_COMMENT})*) *")
_BACKTICKS = re.compile(r"`([^`]*)`")
# An item or heading whose text has inline markup (emphasis, code, links, entities): its block
# shape is still plain (one line, content starting with a task box or a letter, which starts no
# block), so only its text goes through markdown-it's inline parser (`rich`).
_RICH_ITEM = re.compile(r"((?:  )*)[-*+] ((?:\[[ xX]\]|[^\W\d_])[^\x00-\x1f\x7f]*?[^\s\x00-\x1f\x7f]?) *")
_RICH_HEADING = re.compile(r"(#{1,6}) +([^\x00-\x1f\x7f]*[^\s#\x00-\x1f\x7f]) *")
_CUT = re.compile(r"#{1,6}(?:[ \t]|$)")
_FENCE = re.compile(r"(`{3,})[^`]*|(~{3,}).*")
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
    rich: bool = False  # `text` is raw inline Markdown (for an item: after the bullet, box included)


def normalise_source(text: str) -> str:
    """What markdown-it does first: CR LF and lone CR become LF, NUL becomes U+FFFD."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")


def sections(lines: list[str], confirm: Callable[[int, int], bool]) -> list[tuple[int, int]]:
    """(start, end) line ranges, each after the first starting with a top-level ATX heading.

    After a line that could open a fence or an HTML block, the next heading is a cut only if
    `confirm(start, cut)` says markdown-it reads it as a heading (the block structure of lines up
    to a line never depends on the lines after it); if it does not, the rest is one section.
    """
    if any("]:" in line for line in lines):
        return [(0, len(lines))]
    cuts, start, opened, number = [], 0, False, 0
    while number < len(lines):
        line = lines[number]
        if number > start and _CUT.match(line):
            if opened and not confirm(start, number):
                break
            cuts.append((start, number))
            start, opened = number, False
        elif not opened and _FENCE.fullmatch(line):  # column 0: always a top-level fence, skipped whole
            number = _fence_end(lines, number, len(lines))
            if number is None:
                break  # never closed: it runs to the end, so no heading below is one
        elif _OPENER.match(line):
            opened = True
        number += 1
    cuts.append((start, len(lines)))
    return cuts


def _fence_end(lines: list[str], number: int, end: int) -> int | None:
    """The line closing the fence opened at `number` (same character, at least as many, indented
    at most 3 spaces, nothing after but spaces), or None when none does before `end`."""
    opener = _FENCE.fullmatch(lines[number])
    marks = opener[1] or opener[2]
    closer = re.compile(rf" {{0,3}}{re.escape(marks[0])}{{{len(marks)},}}[ \t]*")
    return next((k for k in range(number + 1, end) if closer.fullmatch(lines[k])), None)


class _Coded:
    """A _CODED_ITEM match read like an _ITEM one: the text with its code spans' backticks removed."""

    def __init__(self, match: re.Match[str]) -> None:
        self._match = match

    def __getitem__(self, group: int) -> str | None:
        found = self._match[group]
        return _BACKTICKS.sub(r"\1", found) if group == 3 else found


def _coded(line: str) -> _Coded | None:
    match = _CODED_ITEM.fullmatch(line)
    if match is None or (match[2] is None and not match[3][0].isalpha()):
        return None  # a plain item must start with a letter as written, as in scan()
    return _Coded(match)


def scan(lines: list[str], start: int, end: int) -> list[Line] | None:
    """The lines of one section if every one has a shape read here, else None (use markdown-it)."""
    out: list[Line] = []
    depth = -1  # depth of the innermost open list item; -1 when no list is open
    previous = "blank"  # what the line before was: blank, heading, paragraph, label or item
    number = start - 1
    while number + 1 < end:
        number += 1
        line = lines[number]
        if not line.strip(" "):
            out.append(Line("blank", number))
            previous = "blank"
            continue
        if line[0] in "`~" and _FENCE.fullmatch(line):  # code: never items; it closes any open list
            closed = _fence_end(lines, number, end)
            if closed is None:
                return None
            number, depth, previous = closed, -1, "blank"
            out.append(Line("paragraph", number))
            previous = "fence"
            continue
        if line[0] == "#":
            match = _HEADING.fullmatch(line)
            rich = _RICH_HEADING.fullmatch(line) if not match else None
            if number != start or not (match or rich) or (match and match[2].endswith("#")):
                return None
            found = match or rich
            out.append(Line("heading", number, len(found[1]), found[2], rich=rich is not None))
            depth, previous = -1, "heading"
            continue
        match = _ITEM.fullmatch(line) or ("`" in line and _coded(line))
        rich = _RICH_ITEM.fullmatch(line) if not match else None
        if rich:
            level = len(rich[1]) // 2
            if level > depth + 1 or previous not in ("blank", "heading", "item", "paragraph", "fence") or (
                    previous == "paragraph" and level):
                return None
            out.append(Line("item", number, level, rich[2], rich=True))
            depth, previous = level, "item"
            continue
        if match:
            level = len(match[1]) // 2
            if level > depth + 1 or (previous not in ("blank", "heading", "item", "paragraph", "fence")):
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
                return None  # after a fence it starts a paragraph of its own, as after a blank
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
