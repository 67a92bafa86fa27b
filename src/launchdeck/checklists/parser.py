"""Parse the Markdown launch checklists teams already keep into stable, phase-tagged items.

Structure comes from markdown-it-py's CommonMark syntax tree, never from regexes over lines, so
task markers inside fenced/indented code, HTML blocks or tables can never become items. Regexes
are only used on text *inside* one node (the `[ ]` marker, a verify comment).

Ids are built from the phase, the enclosing headings and the item's normalised text, never from
line numbers: sign-offs in the ledger must survive unrelated edits to the file.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from pathlib import Path

from typing import TYPE_CHECKING

from launchdeck.checklists.fastscan import Line, normalise_source, scan, sections
from launchdeck.core import collector
from launchdeck.core.errors import LaunchdeckError

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.tree import SyntaxTreeNode

PHASES = ("pre-launch", "launch-day", "post-launch", "other")

# Pre/post are checked before launch-day so "PRE-DEPLOYMENT CHECKLIST" never reads as the bare
# "deployment checklist". Keywords match whole words with dashes/underscores read as spaces, so
# "pre-launch", "Pre Launch" and "pre_launch" are one keyword. "readiness" and "prerequisites" are
# pre-launch ("Go-Live Checklist / Technical Readiness" lists what must be true before going live).
# Deliberately absent: bare "day 2" (seeds 001/002 use "Day 2" for the 2nd day of *setup*),
# "launch tasks" and "launch checklist" (umbrella titles over pre/day/post lists, so claiming
# launch-day for them would mislabel; "Launch Day Tasks" still matches "launch day").
KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pre-launch", ("pre launch", "prelaunch", "pre deployment", "predeployment", "pre deploy", "predeploy",
                    "pre release", "prerelease", "preflight", "pre flight", "before launch", "before",
                    "prerequisites", "readiness")),
    ("post-launch", ("post launch", "postlaunch", "post deployment", "postdeployment", "post deploy",
                     "postdeploy", "post release", "after launch", "after", "week 1", "first week",
                     "day 2 operations", "day 2 ops", "hypercare")),
    ("launch-day", ("launch day", "launchday", "go live", "golive", "deployment day", "deploy day",
                    "release day", "cutover", "cut over", "deployment checklist", "during launch",
                    "during deployment")),
)

_SLUG_CAP = 48
_TASK = re.compile(r"\[([ xX])\](?:\s+|$)")
_VERIFY = re.compile(r"<!--\s*verify:\s*(.*?)\s*-->", re.DOTALL | re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+")
_PUNCTUATION = re.compile(r"[^\w\s]")
_NAME = re.compile(r"<!--\s*id:\s*(.*?)\s*-->", re.DOTALL | re.IGNORECASE)


@cache
def _markdown(blocks_only: bool = False) -> MarkdownIt:
    """markdown-it, imported on first use (~0.12 s): the line scanner reads plain checklists without it,
    and the dashboard's first frame never waits for it."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark")
    return parser.disable(["inline", "text_join"]) if blocks_only else parser


def _tree(tokens: list) -> SyntaxTreeNode:
    from markdown_it.tree import SyntaxTreeNode

    return SyntaxTreeNode(tokens)


class ChecklistError(LaunchdeckError):
    """A checklist file that cannot be read; the message starts with the path and is shown as-is."""
    title = "checklist"


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    text: str
    phase: str
    section: tuple[str, ...]
    level: int
    checked: bool
    verify: str | None
    line: int
    parent: str | None
    ambiguous: bool = False  # a twin nothing tells apart (see item_ids): shown, never signed


def _item(**fields) -> ChecklistItem:
    """A ChecklistItem with every field given, without the frozen dataclass's per-field
    `object.__setattr__` (0.23 s of a 50,000-item parse, against 0.04 s): equal and hashing alike."""
    item = object.__new__(ChecklistItem)
    item.__dict__.update(fields)
    return item


@dataclass(frozen=True)
class Checklist:
    source: str
    title: str
    items: tuple[ChecklistItem, ...]
    # what records call this file: its path relative to the config file (load_checklists), so
    # teamA/launch.md and teamB/launch.md stay apart; the base name when there is no config
    key: str = ""
    problems: tuple[str, ...] = ()  # what the author should fix, e.g. twins that cannot be signed

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", Path(self.source).name)

    def by_phase(self, phase: str) -> tuple[ChecklistItem, ...]:
        return tuple(item for item in self.items if item.phase == phase)

    @cached_property
    def _by_id(self) -> dict[str, ChecklistItem]:
        return {item.id: item for item in self.items}

    def get(self, item_id: str) -> ChecklistItem | None:
        return self._by_id.get(item_id)


# --- text helpers -------------------------------------------------------------------------------

def _words(text: str) -> str:
    """Lowercase words separated by single spaces: the form keywords and overrides compare in."""
    return " ".join(re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", text).casefold()))


def phase_of(text: str) -> str | None:
    """The phase a heading, bold label or file name names by keyword, or None.

    Keywords match inside one phrase only: punctuation other than dashes/'_' splits phrases, so
    "Code Deployment (Day 1)" is not "deployment day".
    """
    phrases = [f" {_words(phrase)} " for phrase in re.split(r"[^\w\s\-\u2010-\u2015]", text)]
    for phase, keywords in KEYWORDS:
        if any(f" {keyword} " in phrase for keyword in keywords for phrase in phrases):
            return phase
    return None


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _normalise(text: str) -> str:
    """What an id is made of: case, emphasis and punctuation edits must not move a sign-off."""
    return _collapse(_PUNCTUATION.sub("", text.casefold()))


normalise_text = _normalise  # for matching a signed text with an item's text now (placing.py)


def _slug(text: str) -> str:
    """Lowercase ascii-ish words joined by '-', capped so ids stay readable; a hash keeps cuts unique."""
    folded = text if text.isascii() else "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _capped("-".join(_WORD.findall(folded.lower())))


def _slug_of_normal(normal: str) -> str:
    """`_slug` of a `_normalise`d text, which holds only word characters and single spaces: for
    ascii its words are the runs between spaces and underscores (a third of the regex's cost,
    50,000 times per big checklist)."""
    if not normal.isascii():
        return _slug(normal)
    return _capped("-".join(normal.replace("_", " ").split()))


def _capped(slug: str) -> str:
    if len(slug) <= _SLUG_CAP:
        return slug
    digest = hashlib.sha256(slug.encode()).hexdigest()[:6]
    return f"{slug[:_SLUG_CAP].rstrip('-')}-{digest}"


def _plain(node: SyntaxTreeNode, comments: list[str]) -> str:
    """Inline markdown reduced to its text; inline HTML (verify and id comments) is collected instead."""
    if node.type == "html_inline":
        comments.append(node.content)
        return ""
    if node.type in ("softbreak", "hardbreak"):
        return " "
    if node.type in ("text", "text_special", "code_inline"):
        return node.content
    return "".join(_plain(child, comments) for child in node.children)


def _inline(paragraph: SyntaxTreeNode) -> SyntaxTreeNode | None:
    return next((child for child in paragraph.children if child.type == "inline"), None)


def _inline_of(source: str) -> SyntaxTreeNode:
    """One line of inline Markdown as the tree node markdown-it's block parse would have made."""
    return _tree(_markdown().parseInline(source)).children[0]


def _label(paragraph: SyntaxTreeNode) -> str | None:
    """`**Pre-Launch Tasks**:` -> "Pre-Launch Tasks": a bold-only paragraph names the list below."""
    return _label_of(_inline(paragraph))


def _label_of(inline: SyntaxTreeNode | None) -> str | None:
    if inline is None:
        return None
    parts = [c for c in inline.children if not (c.type == "text" and not c.content.strip())]
    if not parts or parts[0].type != "strong":
        return None
    if len(parts) > 2 or (len(parts) == 2 and (parts[1].type != "text" or parts[1].content.strip() != ":")):
        return None
    return _collapse(_plain(parts[0], [])).rstrip(":").strip() or None


# --- the walk -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Scope:
    """What an enclosing list item hands to the items nested in it."""
    level: int = 0
    parent: int | None = None  # index of the enclosing task item's draft
    phase: str | None = None
    path_extra: str | None = None


@dataclass(slots=True)
class _Draft:
    """An item before ids are given: twins can only be told apart once the whole file is read."""
    text: str
    checked: bool
    verify: str | None
    name: str | None  # the author's `<!-- id: ... -->`
    line: int
    level: int
    parent: int | None
    phase: str
    section: tuple[str, ...]
    path: str  # phase and section slugs: where the item is
    slug: str  # the text's slug


class _Walker:
    """One document walk; mutable because headings and labels are positional state. Both readers
    (markdown-it's tree and the line scanner) drive it through heading, label, item and scopes."""

    def __init__(self, source: str, phase: str | None, overrides: dict[str, str]) -> None:
        self.source, self.phase, self.overrides = source, phase, overrides
        self.key = ""  # the checklist's key, named in problems when it has one
        self.headings: list[tuple[int, str]] = []
        self.labels: list[str | None] = []  # the current bold label of each open container
        self.drafts: list[_Draft] = []
        self.title: str | None = None
        self.offset = 0  # line of the section being read, for markdown-it's section-relative maps
        self._phases: dict[tuple[str, ...], str] = {}
        self._places: dict[tuple[str, tuple[str, ...]], str] = {}

    # markdown-it's tree
    def container(self, nodes: Iterable[SyntaxTreeNode], scope: _Scope) -> None:
        """Walk sibling blocks; a bold label lasts until the next label here or the next heading."""
        self.labels.append(None)
        for node in nodes:
            if node.type == "heading":
                inline = _inline(node)
                self.heading(int(node.tag[1:]), _collapse(_plain(inline, [])) if inline else "")
            elif node.type == "paragraph" and (label := _label(node)):
                self.labels[-1] = label
            elif node.type in ("bullet_list", "ordered_list"):
                for item in node.children:
                    self.list_item(item, scope)
            elif node.type == "blockquote":
                self.container(node.children, scope)
            # fence, code_block, html_block, hr and other paragraphs never hold items
        self.labels.pop()

    def list_item(self, node: SyntaxTreeNode, scope: _Scope) -> None:
        children = node.children
        first = children[0] if children and children[0].type == "paragraph" else None
        if first is None:
            self.container(children, _Scope(scope.level + 1, scope.parent, scope.phase, scope.path_extra))
            return
        blocks = [block.content for block in children[1:] if block.type == "html_block"]
        line = self.offset + (node.map[0] + 1 if node.map else 0)
        inner, task = self.inline_item(_inline(first), blocks, line, scope)
        self.container(children[1:] if task else children, inner)  # a label paragraph still names the list

    def inline_item(self, inline: SyntaxTreeNode | None, blocks: list[str] | None, line: int,
                    scope: _Scope) -> tuple[_Scope, bool]:
        """A list item's first paragraph: a task (`[ ] text`), a plain parent, or neither; the scope
        its nested items get, and whether it was a task."""
        comments: list[str] = []
        text = _collapse(_plain(inline, comments)) if inline else ""
        # the raw source must start with the marker too, so `**[ ]** x` or an escaped `\[ ]` is no task
        marker = _TASK.match(text) if inline and _TASK.match(inline.content) else None
        if marker and text[marker.end():]:
            return self.item(text[marker.end():], marker.group(1) != " ", comments + (blocks or []), line,
                             scope), True
        if _label_of(inline) is None and (normal := _normalise(text)):
            return _Scope(scope.level + 1, scope.parent, scope.phase, normal), False
        return _Scope(scope.level + 1, scope.parent, scope.phase, scope.path_extra), False

    # the events both readers produce
    def heading(self, level: int, text: str) -> None:
        self.headings = [h for h in self.headings if h[0] < level] + [(level, text)]
        self.labels = [None] * len(self.labels)
        if self.title is None and text:
            self.title = text

    def section(self) -> tuple[str, ...]:
        return tuple(text for _, text in self.headings if text) + tuple(label for label in self.labels if label)

    def place(self, phase: str, path: tuple[str, ...]) -> str:
        """`phase/slug.slug...`: where an item is, as ids spell it (cached: 50,000 items, few places)."""
        key = (phase, path)
        if (known := self._places.get(key)) is None:
            known = self._places[key] = f"{phase}/{'.'.join(filter(None, map(_slug, path))) or '_'}"
        return known

    def item(self, text: str, checked: bool, comments: list[str], line: int, scope: _Scope) -> _Scope:
        """Record one task item; return the scope its nested items get."""
        section = self.section()
        phase = self.phase or scope.phase or self.phase_for(section)
        path = section + (scope.path_extra,) if scope.level and scope.path_extra else section
        verify = name = None
        if comments:
            verifies = [m.group(1) for c in comments for m in _VERIFY.finditer(c)]
            names = [m.group(1) for c in comments for m in _NAME.finditer(c)]
            verify, name = (_collapse(verifies[0]) if verifies else None), (names[0] if names else None)
        normal = _normalise(text)
        self.drafts.append(_Draft(text, checked, verify, name, line, scope.level, scope.parent, phase, section,
                                  self.place(phase, path), _slug_of_normal(normal) or "item"))
        return _Scope(scope.level + 1, len(self.drafts) - 1, phase, normal)

    def phase_for(self, section: tuple[str, ...]) -> str:
        """Nearest heading/label naming a phase (override first), else the file name, else other."""
        if (known := self._phases.get(section)) is not None:
            return known
        found = "other"
        for text in (*reversed(section), Path(self.source).name):
            if hit := self.overrides.get(_words(text)) or phase_of(text):
                found = hit
                break
        self._phases[section] = found
        return found

    # the line scanner's sections
    def lines(self, scanned: list[Line]) -> None:
        """Replay one section read by the line scanner (the same events markdown-it's tree gives)."""
        self.labels.append(None)
        scopes: list[_Scope] = []  # scopes[d]: what an item at depth d is nested in
        for line in scanned:
            if line.kind == "heading" and not line.rich:
                self.heading(line.level, _collapse(line.text))
            elif line.kind == "label":
                self.labels[-1] = _collapse(line.text).rstrip(":").strip() or None
            elif line.kind == "heading" and line.rich:
                self.heading(line.level, _collapse(_plain(_inline_of(line.text), [])))
            elif line.kind == "item":
                del scopes[line.level + 1:]
                if not scopes:
                    scopes.append(_Scope())
                scope = scopes[line.level]
                text = _collapse(line.text)
                if line.rich:
                    inner = self.inline_item(_inline_of(line.text), None, line.number + 1, scope)[0]
                elif line.mark is not None:
                    inner = self.item(text, line.mark != " ", list(line.comments), line.number + 1, scope)
                else:
                    inner = _Scope(scope.level + 1, scope.parent, scope.phase, _normalise(text))
                scopes.append(inner)
            elif line.kind == "paragraph":
                scopes.clear()
        self.labels.pop()

    # ids
    def items(self) -> tuple[tuple[ChecklistItem, ...], tuple[str, ...]]:
        """Give every draft its id (see `item_ids`) and report ids the author gave twice."""
        ids, ambiguous, problems = item_ids(self.drafts)
        problems = [f"{self.key or self.source}: {problem}" for problem in problems]
        built: list[ChecklistItem] = []
        for index, draft in enumerate(self.drafts):
            built.append(_item(
                id=ids[index], text=draft.text, phase=draft.phase, section=draft.section, level=draft.level,
                checked=draft.checked, verify=draft.verify, line=draft.line,
                parent=ids[draft.parent] if draft.parent is not None else None, ambiguous=index in ambiguous))
        return tuple(built), tuple(problems)


def item_ids(drafts: list[_Draft]) -> tuple[list[str], set[int], list[str]]:
    """Ids from where an item is and what it says, never from its line or its rank.

    `<!-- id: name -->` wins: `id:name`, whatever the text or heading becomes. Otherwise
    `phase/section-path/text`. Items with the same text in the same place (twins) add `@` and the
    nearest item above them in that place with another text (`@top` if none), so adding a twin
    elsewhere leaves the others' ids alone (an item that *becomes* a twin changes id: the board
    then says which records it cannot place, see state.py). Twins that even this cannot tell apart (adjacent ones, or a name given twice)
    are numbered `~1`, `~2` and marked ambiguous: they cannot be signed until one gets an id.
    """
    bases: list[str] = []
    for draft in drafts:
        if draft.name is not None and _slug(draft.name):
            bases.append(f"id:{_slug(draft.name)}")
        else:
            bases.append(f"{draft.path}/{draft.slug}")
    counts = Counter(bases)
    recent: dict[str, tuple[str, str]] = {}  # place -> (latest text slug, latest other text slug)
    ids = []
    for draft, base in zip(drafts, bases):
        own = draft.slug
        latest, other = recent.get(draft.path, ("", ""))
        if counts[base] > 1 and not base.startswith("id:"):
            base = f"{base}@{(latest if latest != own else other) or 'top'}"
        if own != latest:
            recent[draft.path] = (own, latest)
        ids.append(base)
    problems, ambiguous = [], set()
    repeated = Counter(ids)
    numbers: Counter[str] = Counter()
    lines: dict[str, list[int]] = {}
    for index, item_id in enumerate(ids):
        if repeated[item_id] > 1:
            numbers[item_id] += 1
            lines.setdefault(item_id, []).append(drafts[index].line)
            ids[index] = f"{item_id}~{numbers[item_id]}"
            ambiguous.add(index)
    for item_id, at in lines.items():
        what = (f"the id {item_id[3:]!r} is given to" if item_id.startswith("id:") else
                f"“{drafts[next(i for i, d in enumerate(drafts) if d.line == at[0])].text}” is")
        problems.append(f"lines {', '.join(map(str, at))}: {what} several items that nothing tells apart; "
                        "they cannot be signed until each has its own <!-- id: name -->")
    return ids, ambiguous, problems


def _check_phase(phase: str, what: str) -> str:
    if phase not in PHASES:
        raise ValueError(f"{what}: unknown phase {phase!r}, expected one of {', '.join(PHASES)}")
    return phase


def parse_checklist(text: str, source: str = "<text>", *, phase: str | None = None,
                    overrides: Mapping[str, str] | None = None, key: str = "") -> Checklist:
    """Parse Markdown into a Checklist; `phase` forces one phase, `overrides` maps heading text to a phase."""
    with collector.paused():  # 50,000 items: the cyclic collector's passes were half the parse
        return _parse(text, source, phase=phase, overrides=overrides, key=key)


def _is_heading(lines: list[str], start: int, cut: int) -> bool:
    """Whether markdown-it, reading lines start..cut, reads line `cut` as a top-level heading (not
    inside a fence or an HTML block opened above it). Blocks only: no inline parsing needed."""
    tokens = _markdown(blocks_only=True).parse("\n".join(lines[start:cut + 1]))
    return any(t.type == "heading_open" and t.level == 0 and t.map and t.map[0] == cut - start for t in tokens)


def _parse(text: str, source: str, *, phase: str | None = None, overrides: Mapping[str, str] | None = None,
           key: str = "", fast: bool = True) -> Checklist:
    """`fast=False` reads every section with markdown-it: the reference the line scanner is tested against."""
    if phase is not None:
        _check_phase(phase, "phase")
    folded = {_words(key): _check_phase(value, key) for key, value in (overrides or {}).items() if _words(key)}
    walker = _Walker(source, phase, folded)
    walker.key = key
    if fast:
        lines = normalise_source(text).split("\n")
        for start, end in sections(lines, lambda start, cut: _is_heading(lines, start, cut)):
            scanned = scan(lines, start, end)
            if scanned is not None:
                walker.lines(scanned)
            else:
                walker.offset = start
                walker.container(_tree(_markdown().parse("\n".join(lines[start:end]))).children, _Scope())
    else:
        walker.container(_tree(_markdown().parse(text)).children, _Scope())
    items, problems = walker.items()
    return Checklist(source=source, title=walker.title or Path(source).stem, items=items, key=key,
                     problems=problems)


def load_checklist(path: Path, *, phase: str | None = None,
                   overrides: Mapping[str, str] | None = None, key: str = "") -> Checklist:
    """Read and parse a file; read/decode failures become ChecklistError so users see no traceback."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise ChecklistError(f"{path}: cannot read checklist ({error.strerror or error})") from error
    except UnicodeDecodeError as error:
        raise ChecklistError(f"{path}: not UTF-8 text (bad byte at offset {error.start})") from error
    return parse_checklist(text, str(path), phase=phase, overrides=overrides, key=key)


def default_checklists() -> list[Checklist]:
    """The packaged templates, one per phase, used when a deck configures no checklist files."""
    folder = resources.files("launchdeck").joinpath("checklists", "templates")
    return [parse_checklist(folder.joinpath(f"{name}.md").read_text(encoding="utf-8"), f"{name}.md", phase=name)
            for name in PHASES[:3]]


def item_to_json(item: ChecklistItem) -> dict:
    """The JSON shape `checklist show --json` prints and reports embed."""
    return {"id": item.id, "text": item.text, "phase": item.phase, "section": list(item.section),
            "level": item.level, "checked": item.checked, "verify": item.verify, "line": item.line,
            "parent": item.parent}
