"""Everything the checklist screen needs, headless: board, ledger, live evidence, other operators.

The engine owns one session; it feeds readings in, polls the ledger for other terminals' sign-offs
and the checklist files for edits, and asks the session to sign. Reading (`open`, `poll`) is
blocking and runs on the engine's pool; applying what was read (`apply`) runs on the engine's
loop, the only place the board changes. Nothing here touches the UI.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from launchdeck.audit.ledger import Ledger, LedgerError, Record
from launchdeck.checklists.evidence import (
    EvidenceSyntaxError,
    evaluate,
    parse_condition,
)
from launchdeck.checklists.ledger_reader import Read, VerifiedReader
from launchdeck.checklists.parser import Checklist, ChecklistError, load_checklist
from launchdeck.checklists.signing import Entry, Request, checklist_key, prepare
from launchdeck.checklists.state import Board
from launchdeck.core.config import ChecklistsConfig, Config
from launchdeck.core.history import ReadingHistory
from launchdeck.core.model import Reading

Key = tuple[str, str]
Loader = Callable[[Checklist], Checklist]  # parse a configured file again, as it was loaded at start
NOTES_KEPT = 5  # set-aside warnings the screen keeps showing (the newest)


@dataclass(frozen=True)
class LiveEvidence:
    state: str  # pass | fail | pending | unknown
    detail: str


@dataclass(frozen=True)
class Poll:
    """One look at the disk, made on the pool, applied on the loop."""

    read: Read
    checklists: list[Checklist] | None = None  # the new set when a file was edited: rebuild the board
    messages: tuple[tuple[str, str, str], ...] = ()  # (severity, title, text) to tell the user once
    warning: str = ""  # what opening the ledger set aside, or why it could not
    board: Board | None = None  # built on the pool from every record: replaces the board


def _identity(source: str) -> tuple[int, int, int, int] | None:
    """What tells an edit from no edit without reading the file: inode, size, mtime (ns); None: gone."""
    try:
        stat = os.stat(source)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


@dataclass
class _Watched:
    checklist: Checklist
    identity: tuple[int, int, int, int] | None
    gone: bool = field(default=False)


def loader_for(config: Config) -> Loader:
    """Parse a configured checklist file again exactly as `load_checklists` first did (phase, key)."""
    section = config.checklists or ChecklistsConfig()
    paths = {checklist_key(config, path): path for path in section.files}

    def load(old: Checklist) -> Checklist:
        path = paths.get(old.key)
        if path is None:
            return load_checklist(Path(old.source), key=old.key)
        return load_checklist(config.resolve(path), phase=section.phases.get(path.name), overrides=section.phases,
                              key=old.key)

    return load


class ChecklistSession:
    def __init__(self, checklists: list[Checklist], ledger_path: Path, history: ReadingHistory | None = None,
                 loader: Loader | None = None) -> None:
        self.checklists = list(checklists)
        self.board = Board.build(self.checklists)
        self.generation = 0  # bumped whenever `board` is replaced by a new one (views re-read their items)
        self.ledger = Ledger(ledger_path)
        self.reader = VerifiedReader(ledger_path)
        self.history = history or ReadingHistory()
        self.evidence: dict[Key, LiveEvidence] = {}
        self.notes: list[str] = []  # warnings for the screen: torn tails set aside while running
        self.gone: dict[str, str] = {}  # checklist key -> why its file is not shown as it is on disk
        self._loader: Loader | None = None
        self._watched: dict[str, _Watched] = {}
        if loader is not None:
            self.watch(loader)
        self._lock = threading.Lock()  # one read of the disk at a time (the watcher's poll and a sign-off's)
        self._seen = 0  # the highest seq applied: a record past it is news (an event; a recovery is told)
        self._opened = False
        self._conditions: dict = {}
        self._parse_conditions()

    def _parse_conditions(self) -> None:
        self._conditions = {}
        self._since: dict = {}  # (condition, target) -> (newest reading judged, since when it held): evidence.py
        for key, state in self.board.states.items():
            if state.item.verify:
                try:
                    self._conditions[key] = parse_condition(state.item.verify)
                except EvidenceSyntaxError as error:
                    self._conditions[key] = error
        holds = [c.hold for c in self._conditions.values() if not isinstance(c, Exception)]
        self.history.needs(max(holds, default=0.0) + 120)  # a margin of two minutes of readings

    def watch(self, loader: Loader) -> None:
        """Notice edits to the checklist files from now on (a stat each per poll), reloading with `loader`."""
        self._loader = loader
        self._watched = {c.key: _Watched(c, _identity(c.source)) for c in self.checklists}

    # ------------------------------------------------------------------ on the pool (blocking)
    def open(self) -> Poll:
        """The first read, chain checked end to end. A torn tail left by a crash is set aside first
        (reported, never dropped) unless the chain is broken earlier: then the integrity problem says
        where, and signing says why it fails."""
        with self._lock:
            first = self.reader.read()
            if self.reader.problem is not None or not self.ledger.path.exists():
                return self._built(first.records)
            try:
                warning = self.ledger.recover()
            except LedgerError as error:
                return self._built(first.records, warning=f"{error}; sign-offs cannot be added until this is fixed")
            more = self.reader.read()  # the recovery record, if one was written
            records = more.records if more.restarted else first.records + more.records
            return self._built(records, warning=str(warning) if warning else "")

    def _built(self, records: list[Record], checklists: list[Checklist] | None = None,
               messages: tuple[tuple[str, str, str], ...] = (), warning: str = "") -> Poll:
        """A whole new board from every record (here, on the pool: 50,000 items take a while)."""
        board = Board.build(self.checklists if checklists is None else checklists, records)
        return Poll(Read(records, restarted=True), checklists, messages, warning, board)

    def poll(self) -> Poll:
        """Checklist files (a stat each; parsed again only when changed), then the ledger. After a
        file was reloaded the ledger is read again from its start: the board is built anew."""
        with self._lock:
            checklists, messages = self._look_at_files()
            if checklists is None:
                read = self.reader.read()
                return self._built(read.records, None, messages) if read.restarted else Poll(read, None, messages)
            self.reader = VerifiedReader(self.ledger.path)
            return self._built(self.reader.read().records, checklists, messages)

    def _look_at_files(self) -> tuple[list[Checklist] | None, tuple[tuple[str, str, str], ...]]:
        messages, changed = [], False
        for key, watched in self._watched.items():
            now = _identity(watched.checklist.source)
            if now == watched.identity:
                continue
            watched.identity = now
            if now is None:
                watched.gone = True
                messages.append(("warning", "checklist", f"{key} is gone: showing the last version read"))
                continue
            try:
                watched.checklist = self._loader(watched.checklist)
            except ChecklistError as error:
                why = f"{key} changed on disk but cannot be read ({error}): showing the last version read"
                messages.append(("warning", "checklist", why))
                watched.gone = True
                continue
            watched.gone, changed = False, True
            messages.append(("information", "checklist", f"{key} changed on disk: reloaded"))
        if not changed:
            return None, tuple(messages)
        return [w.checklist for w in self._watched.values()], tuple(messages)

    # ------------------------------------------------------------------ on the engine's loop
    def apply(self, poll: Poll, now: datetime) -> tuple[list[Key], list[Record], list[tuple[str, str, str]]]:
        """Fold what a poll read into the board: the board built anew on the pool when the ledger was
        rewritten or a file reloaded (never records applied twice), else the new records on top.
        Returns the keys that changed, the records not seen before (events) and what to tell the user."""
        read, messages = poll.read, list(poll.messages)
        fresh = [r for r in read.records if r.seq > self._seen]
        if poll.board is not None:
            self.board = poll.board
            self.generation += 1
            if poll.checklists is not None:
                self.checklists = poll.checklists
                self._parse_conditions()
                self.evidence = {}
                self._judge_all(now)
            keys = list(self.board.states)
        else:
            keys = self.board.apply_all(read.records)
        if read.gone:
            messages.append(("warning", "ledger", f"{self.ledger.path} is gone: nothing shows as signed until it is back"))
        self.gone = {key: f"{key} is gone or unreadable: showing the last version read"
                     for key, w in self._watched.items() if w.gone}
        if self._opened:  # a recovery from before this view opened was reported by `open`
            for record in fresh:
                if record.kind == "recovery":
                    text = f"{self.ledger.path}: {record.reason}; recorded as seq {record.seq}"
                    self.notes = (self.notes + [text])[-NOTES_KEPT:]
                    messages.append(("warning", "ledger", text))
        self._opened = True
        self._seen = max([self._seen, *(r.seq for r in fresh)])
        return keys, fresh, messages

    def integrity_problem(self) -> str:
        """The chain's first bad line in words, with what it means and the repair command; "" when intact."""
        problem, path = self.reader.problem, self.ledger.path
        if problem is None:
            return ""
        line = problem.first_bad_line
        detail = problem.detail.removeprefix(f"line {line}: ")
        return (f"{path}: INTEGRITY PROBLEM at line {line} ({problem.problem}): {detail}. Only the "
                f"{problem.records} records before it count; {self.reader.unverified} line(s) from line {line} "
                f"on are not shown as signed, and sign-offs cannot be added until it is repaired: "
                f"launchdeck signoff repair {path}")

    def integrity_short(self) -> str:
        """One line for the dashboard: where the chain breaks and what still counts; "" when intact."""
        problem = self.reader.problem
        if problem is None:
            return ""
        return (f"ledger INTEGRITY PROBLEM at line {problem.first_bad_line} ({problem.problem}): only the "
                f"{problem.records} records before it count")

    def torn_tail(self) -> str:
        torn = self.reader.torn
        return f"{self.ledger.path}: {torn.detail}" if torn is not None else ""

    # ------------------------------------------------------------------ evidence and signing
    def _judge_all(self, now: datetime) -> None:
        for key, condition in self._conditions.items():
            if isinstance(condition, Exception):
                self.evidence[key] = LiveEvidence("unknown", str(condition))
            else:
                result = evaluate(condition, self.history, now)
                self.evidence[key] = LiveEvidence(result.state, result.detail)

    def observe(self, reading: Reading, now: datetime) -> list[Key]:
        """Re-judge the evidence that depends on a reading's panel (the engine has added it to the shared
        history); the keys whose verdict changed."""
        changed = []
        judged: dict = {}  # the packaged checklists ask the same question of several items: judged once
        for key, condition in self._conditions.items():
            if isinstance(condition, Exception):
                live = LiveEvidence("unknown", str(condition))
            elif condition.panel != reading.panel and key in self.evidence:
                continue
            elif (live := judged.get(condition)) is None:
                # the memo spares a `for 15m` condition the walk back through every kept reading of every
                # target on every reading (~8,000 steps per traffic reading after a quarter of an hour)
                result = evaluate(condition, self.history, now, self._since)
                live = judged[condition] = LiveEvidence(result.state, result.detail)
            if self.evidence.get(key) != live:
                self.evidence[key] = live
                changed.append(key)
        return changed

    def prepare(self, request: Request, now: datetime) -> Entry:
        """The signing rule against the live evidence (event loop only: it reads the history)."""
        return prepare(request, self.history, now)
