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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from launchdeck.core.errors import LaunchdeckError

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
_PARSER = MarkdownIt("commonmark")


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


@dataclass(frozen=True)
class Checklist:
    source: str
    title: str
    items: tuple[ChecklistItem, ...]

    def by_phase(self, phase: str) -> tuple[ChecklistItem, ...]:
        return tuple(item for item in self.items if item.phase == phase)

    def get(self, item_id: str) -> ChecklistItem | None:
        return next((item for item in self.items if item.id == item_id), None)


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
    return _collapse(re.sub(r"[^\w\s]", "", text.casefold()))


def _slug(text: str) -> str:
    """Lowercase ascii-ish words joined by '-', capped so ids stay readable; a hash keeps cuts unique."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    slug = "-".join(re.findall(r"[^\W_]+", folded.lower()))
    if len(slug) <= _SLUG_CAP:
        return slug
    digest = hashlib.sha256(slug.encode()).hexdigest()[:6]
    return f"{slug[:_SLUG_CAP].rstrip('-')}-{digest}"


def _plain(node: SyntaxTreeNode, verifies: list[str]) -> str:
    """Inline markdown reduced to its text; verify comments are collected instead of shown."""
    if node.type == "html_inline":
        verifies.extend(match.group(1) for match in _VERIFY.finditer(node.content))
        return ""
    if node.type in ("softbreak", "hardbreak"):
        return " "
    if node.type in ("text", "text_special", "code_inline"):
        return node.content
    return "".join(_plain(child, verifies) for child in node.children)


def _inline(paragraph: SyntaxTreeNode) -> SyntaxTreeNode | None:
    return next((child for child in paragraph.children if child.type == "inline"), None)


def _label(paragraph: SyntaxTreeNode) -> str | None:
    """`**Pre-Launch Tasks**:` -> "Pre-Launch Tasks": a bold-only paragraph names the list below."""
    inline = _inline(paragraph)
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
    parent_id: str | None = None
    phase: str | None = None
    path_extra: str | None = None


class _Walker:
    """One document walk; mutable because headings and labels are positional state."""

    def __init__(self, source: str, phase: str | None, overrides: dict[str, str]) -> None:
        self.source, self.phase, self.overrides = source, phase, overrides
        self.headings: list[tuple[int, str]] = []
        self.labels: list[str | None] = []  # the current bold label of each open container
        self.items: list[ChecklistItem] = []
        self.seen: dict[str, int] = {}
        self.title: str | None = None

    def container(self, nodes: Iterable[SyntaxTreeNode], scope: _Scope) -> None:
        """Walk sibling blocks; a bold label lasts until the next label here or the next heading."""
        self.labels.append(None)
        for node in nodes:
            if node.type == "heading":
                self.heading(node)
            elif node.type == "paragraph" and (label := _label(node)):
                self.labels[-1] = label
            elif node.type in ("bullet_list", "ordered_list"):
                for item in node.children:
                    self.list_item(item, scope)
            elif node.type == "blockquote":
                self.container(node.children, scope)
            # fence, code_block, html_block, hr and other paragraphs never hold items
        self.labels.pop()

    def heading(self, node: SyntaxTreeNode) -> None:
        level = int(node.tag[1:])
        inline = _inline(node)
        text = _collapse(_plain(inline, [])) if inline else ""
        self.headings = [h for h in self.headings if h[0] < level] + [(level, text)]
        self.labels = [None] * len(self.labels)
        if self.title is None and text:
            self.title = text

    def section(self) -> tuple[str, ...]:
        return tuple(text for _, text in self.headings if text) + tuple(label for label in self.labels if label)

    def list_item(self, node: SyntaxTreeNode, scope: _Scope) -> None:
        children = node.children
        first = children[0] if children and children[0].type == "paragraph" else None
        inline = _inline(first) if first else None
        verifies: list[str] = []
        text = _collapse(_plain(inline, verifies)) if inline else ""
        # the raw source must start with the marker too, so `**[ ]** x` or an escaped `\[ ]` is no task
        marker = _TASK.match(text) if inline and _TASK.match(inline.content) else None
        body = children
        if marker and text[marker.end():]:
            for block in children[1:]:
                if block.type == "html_block":
                    verifies.extend(match.group(1) for match in _VERIFY.finditer(block.content))
            item = self.add(text[marker.end():], marker.group(1) != " ", verifies, node, scope)
            inner = _Scope(scope.level + 1, item.id, item.phase, _normalise(item.text))
            body = children[1:]
        elif first is not None and _label(first) is None and _normalise(text):
            inner = _Scope(scope.level + 1, scope.parent_id, scope.phase, _normalise(text))
        else:
            inner = _Scope(scope.level + 1, scope.parent_id, scope.phase, scope.path_extra)
        self.container(body, inner)

    def add(self, text: str, checked: bool, verifies: list[str], node: SyntaxTreeNode,
            scope: _Scope) -> ChecklistItem:
        section = self.section()
        phase = self.phase or scope.phase or self.phase_for(section)
        path = section + ((scope.path_extra,) if scope.level and scope.path_extra else ())
        base = f"{phase}/{'.'.join(filter(None, map(_slug, path))) or '_'}/{_slug(_normalise(text)) or 'item'}"
        self.seen[base] = self.seen.get(base, 0) + 1
        item_id = base if self.seen[base] == 1 else f"{base}~{self.seen[base]}"
        item = ChecklistItem(id=item_id, text=text, phase=phase, section=section, level=scope.level,
                             checked=checked, verify=_collapse(verifies[0]) if verifies else None,
                             line=node.map[0] + 1 if node.map else 0, parent=scope.parent_id)
        self.items.append(item)
        return item

    def phase_for(self, section: tuple[str, ...]) -> str:
        """Nearest heading/label naming a phase (override first), else the file name, else other."""
        for text in (*reversed(section), Path(self.source).name):
            found = self.overrides.get(_words(text)) or phase_of(text)
            if found:
                return found
        return "other"


def _check_phase(phase: str, what: str) -> str:
    if phase not in PHASES:
        raise ValueError(f"{what}: unknown phase {phase!r}, expected one of {', '.join(PHASES)}")
    return phase


def parse_checklist(text: str, source: str = "<text>", *, phase: str | None = None,
                    overrides: Mapping[str, str] | None = None) -> Checklist:
    """Parse Markdown into a Checklist; `phase` forces one phase, `overrides` maps heading text to a phase."""
    if phase is not None:
        _check_phase(phase, "phase")
    folded = {_words(key): _check_phase(value, key) for key, value in (overrides or {}).items() if _words(key)}
    walker = _Walker(source, phase, folded)
    walker.container(SyntaxTreeNode(_PARSER.parse(text)).children, _Scope())
    return Checklist(source=source, title=walker.title or Path(source).stem, items=tuple(walker.items))


def load_checklist(path: Path, *, phase: str | None = None,
                   overrides: Mapping[str, str] | None = None) -> Checklist:
    """Read and parse a file; read/decode failures become ChecklistError so users see no traceback."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise ChecklistError(f"{path}: cannot read checklist ({error.strerror or error})") from error
    except UnicodeDecodeError as error:
        raise ChecklistError(f"{path}: not UTF-8 text (bad byte at offset {error.start})") from error
    return parse_checklist(text, str(path), phase=phase, overrides=overrides)


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
