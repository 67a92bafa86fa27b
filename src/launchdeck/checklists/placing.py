"""Where a ledger record belongs now that the checklist may have been edited since it was signed.

In order, stopping at the first that decides:
1. the file: the record's key (path relative to the config file); a record written before keys
   were paths names only the base name, read as that file when one configured file has it;
2. the item id as it is;
3. the same id but for its twin suffix (`@context`, `~N`): the item lost or gained a twin;
4. a fuzzy match: in the same place (phase and headings), the item whose text is closest to the
   signed text (difflib ratio at least 0.75: reworded); else the one item anywhere in the file
   with the same text (a heading renamed or the item moved).
Steps 3 and 4 place the record with the id it named kept beside it, so the item shows "changed
since signed" with the old text. Several equally good items: the record is placed on none of
them and each shows it as a claim. Nothing good enough: an orphan, listed as such. Never silent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import PurePosixPath

from launchdeck.audit.ledger import Record
from launchdeck.checklists.parser import Checklist, normalise_text

Key = tuple[str, str]
REWORDED = 0.75  # difflib ratio of the normalised texts from which an item in the same place is the same item
_TWIN = re.compile(r"~\d+$")


@dataclass(frozen=True)
class Place:
    key: Key | None = None
    exact: bool = True  # the record names the item by its id now
    candidates: tuple[Key, ...] = ()  # when it could be any of these


NOWHERE = Place()


def stem(item_id: str) -> str:
    """The id without its rank among twins that nothing tells apart."""
    return _TWIN.sub("", item_id)


def base(item_id: str) -> str:
    """The id without any twin suffix: what every twin of an item shares."""
    return stem(item_id).split("@", 1)[0]


def place_of(item_id: str) -> str | None:
    """`phase/headings` of an id made from text; None for an author's explicit `id:` name."""
    return None if item_id.startswith("id:") else base(item_id).rsplit("/", 1)[0]


class _File:
    """One checklist's indexes, built the first time a record needs more than its exact id."""

    def __init__(self, checklist: Checklist) -> None:
        self.checklist, self.key = checklist, checklist.key
        self._built = False

    def _build(self) -> None:
        self.stems: dict[str, list[str]] = {}
        self.bases: dict[str, list[str]] = {}
        self.places: dict[str, list[str]] = {}
        self.texts: dict[str, list[str]] = {}
        self.normal: dict[str, str] = {}
        for item in self.checklist.items:
            self.stems.setdefault(stem(item.id), []).append(item.id)
            self.bases.setdefault(base(item.id), []).append(item.id)
            if (where := place_of(item.id)) is not None:
                self.places.setdefault(where, []).append(item.id)
            self.normal[item.id] = normal = normalise_text(item.text)
            self.texts.setdefault(normal, []).append(item.id)
        self._built = True

    def place(self, record: Record, taken: set[Key]) -> Place:
        item = self.checklist.get(record.item_id)
        if item is not None and not item.ambiguous:
            return Place((self.key, item.id))
        if not self._built:
            self._build()
        for index, name in ((self.stems, stem(record.item_id)), (self.bases, base(record.item_id))):
            if found := index.get(name):  # the item lost or gained a twin (or is one: then its twins)
                return self._one(found, exact=False)
        return self._fuzzy(record, taken)

    def _one(self, ids: list[str], exact: bool) -> Place:
        if len(ids) == 1 and not self.checklist.get(ids[0]).ambiguous:
            return Place((self.key, ids[0]), exact)
        return Place(candidates=tuple((self.key, i) for i in ids))

    def _fuzzy(self, record: Record, taken: set[Key]) -> Place:
        signed = normalise_text(record.item_text)
        where = place_of(record.item_id)
        free = [i for i in self.places.get(where, ()) if (self.key, i) not in taken] if where else []
        if free:
            matcher = SequenceMatcher(None, b=signed, autojunk=False)
            scored = []
            for item_id in free:
                matcher.set_seq1(self.normal[item_id])
                if matcher.real_quick_ratio() >= REWORDED and matcher.quick_ratio() >= REWORDED:
                    if (ratio := matcher.ratio()) >= REWORDED:
                        scored.append((ratio, item_id))
            if scored:
                best = max(ratio for ratio, _ in scored)
                return self._one([i for ratio, i in scored if ratio >= best - 0.01], exact=False)
        same = [i for i in self.texts.get(signed, ()) if (self.key, i) not in taken]
        return self._one(same, exact=False) if same else NOWHERE


class Placer:
    """Places records on the items of a fixed set of checklists; one record id is placed once."""

    def __init__(self, checklists: list[Checklist]) -> None:
        self.files = {checklist.key: _File(checklist) for checklist in checklists}
        self.by_name: dict[str, list[str]] = {}
        for key in self.files:
            self.by_name.setdefault(PurePosixPath(key).name, []).append(key)
        self.taken: set[Key] = set()  # items that some record names exactly: no other record is matched onto them
        self._memo: dict[tuple[str, str], Place] = {}

    def place(self, record: Record) -> Place:
        memo = (record.checklist, record.item_id)
        if (known := self._memo.get(memo)) is not None:
            return known
        if record.checklist in self.files:
            found = self.files[record.checklist].place(record, self.taken)
        else:  # a record from before keys were paths: its base name, if one configured file has it
            places = [self.files[key].place(record, self.taken) for key in self.by_name.get(record.checklist, ())]
            exact = [p for p in places if p.key is not None and p.exact]
            hits = exact or [p for p in places if p.key is not None or p.candidates]
            if len(hits) == 1:
                found = hits[0]
            else:
                found = Place(candidates=tuple(k for p in hits for k in ((p.key,) if p.key else p.candidates)))
        if found.key is not None and found.exact:
            self.taken.add(found.key)
        self._memo[memo] = found
        return found
