"""Concept sets: a set of noun synsets with the hierarchy restricted to it, and how sets are built
(the default vocabulary rule, the whole noun hierarchy, lists of words or synsets)."""
from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable, Sequence

from eclip_desktop.core.errors import ConceptError, EclipError
from eclip_desktop.core.io.atomic import atomic_write_bytes
from eclip_desktop.core.io.guards import read_text, shown
from eclip_desktop.core.wordnet import provider
from eclip_desktop.core.wordnet.parser import CACHE_FORMAT, SEP, WORD_RE

CONCRETE_LEXNAMES: tuple[str, ...] = (
    "noun.animal", "noun.artifact", "noun.body", "noun.food",
    "noun.object", "noun.plant", "noun.shape", "noun.substance",
)
DEFAULT_MIN_COUNT = 1
SUGGESTED_LINES = 10  # rejected lines of a concept file whose message names look-alike words
DEFAULT_RULE = {
    "version": 2,
    "sense": "first",
    "under": ["physical_entity.n.01"],
    "also_lexnames": ["noun.shape"],
    "lexnames": list(CONCRETE_LEXNAMES),
    "min_count": DEFAULT_MIN_COUNT,
    "min_letters": 3,
    "lowercase_lemma": True,
}


@dataclass(frozen=True, eq=False)
class ConceptSet:
    """A set of noun synsets with the hierarchy restricted to it (a DAG).

    ``parents``/``children`` map each member to its members-only parents and
    children. ``rejected`` lists ``(line number, text, reason)`` for input
    lines a file-based set could not use.
    """

    name: str
    synsets: tuple[str, ...]
    parents: dict[str, tuple[str, ...]]
    children: dict[str, tuple[str, ...]]
    rejected: list[tuple[int, str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_members", frozenset(self.synsets))

    def __len__(self) -> int:
        return len(self.synsets)

    def __iter__(self):
        return iter(self.synsets)

    def __contains__(self, name: object) -> bool:
        return name in self._members

    def contains(self, name: str) -> bool:
        return name in self._members

    @cached_property
    def content_hash(self) -> str:
        """sha1 of the sorted member names: a cache key for encoded glosses."""
        return hashlib.sha1("\n".join(self.synsets).encode("utf-8")).hexdigest()

    @cached_property
    def index(self) -> dict[str, int]:
        """Position of each member in ``synsets`` (the order of ``glosses``)."""
        return {name: i for i, name in enumerate(self.synsets)}

    def roots(self) -> list[str]:
        return [s for s in self.synsets if not self.parents.get(s)]

    def subtree(self, name: str) -> list[str]:
        """``name`` first, then all its hyponyms inside the set, sorted."""
        if name not in self._members:
            raise ConceptError(f"{name} is not in the concept set '{self.name}'.")
        seen = {name}
        stack = [name]
        while stack:
            for child in self.children.get(stack.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        seen.discard(name)
        return [name] + sorted(seen)




class ConceptSetsMixin:
    """Building concept sets from the hierarchy's arrays (mixed into Hierarchy)."""

    def _synset_counts(self) -> list[int]:
        # Tag counts summed over a synset's lemmas: how often it is used.
        with self._lock:
            if not hasattr(self, "_counts"):
                counts = [0] * len(self._names)
                for i, c in zip(self._sense_idx, self._sense_cnt):
                    counts[i] += c
                self._counts = counts
            return self._counts

    # -- concept sets

    def _closure(self, seeds: Iterable[int]) -> set[int]:
        out: set[int] = set()
        stack = list(seeds)
        while stack:
            i = stack.pop()
            if i not in out:
                out.add(i)
                stack.extend(self._par(i))
        return out

    def _make_set(self, name: str, members: Iterable[int],
                  rejected: list[tuple[int, str, str]] | None = None) -> ConceptSet:
        inside = set(members)
        names, par, kids = self._names, self._par, self._kids
        idx = [i for i in self._name_order if i in inside]
        parents = {names[i]: tuple([names[p] for p in par(i) if p in inside]) for i in idx}
        children = {names[i]: tuple([names[c] for c in kids(i) if c in inside]) for i in idx}
        return ConceptSet(name, tuple([names[i] for i in idx]), parents, children, rejected or [])

    def concept_set_from_synsets(self, name: str, synsets: Sequence[str]) -> ConceptSet:
        """The given synsets (or words, first sense) and their hypernym closure."""
        seeds = [self._idx(self.resolve(s)) for s in synsets]
        if not seeds:
            raise ConceptError(f"The concept set '{name}' is empty.")
        return self._make_set(name, self._closure(seeds))

    def concept_set_from_file(self, path: Path | str) -> ConceptSet:
        """One word or synset name per line; ``#`` starts a comment.

        Unusable lines are kept in ``rejected`` as (line number, text, reason)
        and the rest is used; a file with nothing usable is an error.
        """
        path = Path(path)
        # A regular UTF-8 file (a byte-order mark dropped) of bounded size: never a FIFO or a device.
        text = read_text(path, lambda why: ConceptError(f"Cannot read the concept file {shown(path)}: {why}."))
        seeds: list[int] = []
        rejected: list[tuple[int, str, str]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            item = line.split("#", 1)[0].strip()
            if not item:
                continue
            try:
                # Look-alikes for the first few only: they are what a reader sees, and each costs ~0.3 s.
                seeds.append(self._idx(self.resolve(item, suggest=len(rejected) < SUGGESTED_LINES)))
            except ConceptError as exc:
                rejected.append((number, item, str(exc)))
        if not seeds:
            first = f" (line {rejected[0][0]}: {rejected[0][2]})" if rejected else ""
            raise ConceptError(f"The concept file {path} names no WordNet noun{first}.")
        return self._make_set(path.stem, self._closure(seeds), rejected)

    def all_nouns_concept_set(self) -> ConceptSet:
        with self._lock:
            if "all-nouns" not in self._sets:
                self._sets["all-nouns"] = self._make_set("all-nouns", range(len(self._names)))
            return self._sets["all-nouns"]

    @property
    def default_set_cache_path(self) -> Path:
        rule = hashlib.sha1(json.dumps(DEFAULT_RULE, sort_keys=True).encode()).hexdigest()[:12]
        return self.cache_dir / f"default-set-v{CACHE_FORMAT}-{rule}.json.gz"

    def default_vocabulary(self) -> list[str]:
        """The words chosen by the default rule (see the module docstring)."""
        lex_ok = {provider.LEXNAMES.index(n) for n in DEFAULT_RULE["lexnames"]}
        lex_also = {provider.LEXNAMES.index(n) for n in DEFAULT_RULE["also_lexnames"]}
        under = {self._index[n] for n in DEFAULT_RULE["under"]}
        below: dict[int, bool] = {}

        def is_below(i: int) -> bool:
            if i not in below:
                below[i] = i in under or any(is_below(p) for p in self._par(i))
            return below[i]

        words = []
        for k, key in enumerate(self._sense_keys):
            if len(key) < DEFAULT_RULE["min_letters"] or not WORD_RE.match(key):
                continue
            pos = self._sense_ptr[k]  # the first, most frequent sense
            i = self._sense_idx[pos]
            lex = int(self._lexidx[i])
            if (self._sense_cnt[pos] >= DEFAULT_RULE["min_count"] and lex in lex_ok
                    and key in self._lemmas_raw[i].split(SEP)  # not a proper noun
                    and (lex in lex_also or is_below(i))):
                words.append(key)
        return words

    def default_concept_set(self) -> ConceptSet:
        """The derived default vocabulary's hypernym closure (cached on disk)."""
        with self._lock:
            if "default" in self._sets:
                return self._sets["default"]
            path = self.default_set_cache_path
            names = None
            try:
                with gzip.open(path, "rt", encoding="utf-8") as fh:
                    stored = json.load(fh)
                if stored.get("rule") == DEFAULT_RULE:
                    names = stored["synsets"]
            except Exception:  # a damaged cache file is rebuilt, never fatal
                names = None
            if names is None or any(n not in self._index for n in names):
                words = self.default_vocabulary()
                seeds = [self._sense_idx[pos] for w in words
                         for pos in range(self._sense_ptr[self._sense_at[w]],
                                          self._sense_ptr[self._sense_at[w] + 1])]
                names = sorted(self._names[i] for i in self._closure(seeds))
                payload = {"rule": DEFAULT_RULE, "n_words": len(words), "words": words,
                           "synsets": names}
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    atomic_write_bytes(path, gzip.compress(json.dumps(payload).encode("utf-8")))
                except (OSError, EclipError):  # a read-only cache costs speed next time, not correctness
                    pass
            cs = self._make_set("default", (self._index[n] for n in names))
            self._sets["default"] = cs
            return cs
