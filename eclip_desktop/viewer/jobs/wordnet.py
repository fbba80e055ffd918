"""What the WordNet dock asks of the worker: Qt-free job functions over one lazily loaded Hierarchy.

The Hierarchy and its concept sets live here, touched only by the dock's worker thread; the UI
gets plain tuples and SynsetInfo back. Loading reads the on-disk cache (or builds it from WordNet
the first time, a few seconds), which is why it must never run on the UI thread.

The ConVis job on the compute worker asks for the same Hierarchy and sets (convis_inputs); a lock
makes their lazy construction safe from both threads, and once built they are only read.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from eclip_desktop.core.errors import ConceptError
from eclip_desktop.core.wordnet.hierarchy import ConceptSet, Hierarchy, SynsetInfo

ROOT = "entity.n.01"
DEFAULT_SET = "default"
ALL_NOUNS = "all"
SHAPES = "shapes"  # the Shapes World classes and their hypernyms: small, for the embedded family
PAPER = "paper"  # the ConVis paper's 7,080 synsets (core/convis/paper_set.py)
BUILTIN_SETS = (DEFAULT_SET, PAPER, ALL_NOUNS, SHAPES)
GLOSS_CHARS = 70


@dataclass(frozen=True)
class SearchHit:
    name: str
    lemma: str
    gloss: str


@dataclass(frozen=True)
class Unknown:
    """A name that resolved to nothing: the message plus what the user may have meant."""

    text: str
    message: str
    suggestions: tuple[str, ...]


@dataclass(frozen=True)
class SetLoaded:
    key: str
    name: str
    size: int
    rejected: list = field(default_factory=list)  # (line number, text, reason)


def short(text: str, n: int = GLOSS_CHARS) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "\u2026"


class WordNetService:
    def __init__(self):
        self._hierarchy: Hierarchy | None = None
        self._sets: dict[str, ConceptSet] = {}
        self._sizes: dict[tuple[str, str], int] = {}
        self._lock = threading.RLock()

    @property
    def loaded(self) -> bool:
        return self._hierarchy is not None

    def hierarchy(self, ctx=None) -> Hierarchy:
        with self._lock:
            if self._hierarchy is None:
                if ctx is not None:
                    ctx.progress("WordNet: loading the noun hierarchy \u2026")
                self._hierarchy = Hierarchy()
            return self._hierarchy

    def concept_set(self, key: str, ctx=None) -> ConceptSet:
        with self._lock:
            if key not in self._sets:
                h = self.hierarchy(ctx)
                if ctx is not None:
                    ctx.progress("WordNet: preparing the concept set \u2026")
                if key == DEFAULT_SET:
                    self._sets[key] = h.default_concept_set()
                elif key == ALL_NOUNS:
                    self._sets[key] = h.all_nouns_concept_set()
                elif key == PAPER:
                    from eclip_desktop.core.convis.paper_set import paper_concept_set
                    self._sets[key] = paper_concept_set(h)
                elif key == SHAPES:
                    from eclip_desktop.core.convis.sets import shapes_concept_set
                    self._sets[key] = shapes_concept_set(h)
                else:
                    self._sets[key] = h.concept_set_from_file(key)
            return self._sets[key]

    def convis_inputs(self, key: str, ctx=None) -> tuple[Hierarchy, ConceptSet]:
        """For the ConVis job on the compute worker (any thread): the hierarchy and one set."""
        with self._lock:
            return self.hierarchy(ctx), self.concept_set(key, ctx)

    # --- jobs: each takes a JobContext-like ctx (check/progress) -----------------------------------

    def load(self, ctx, key: str) -> SetLoaded:
        cs = self.concept_set(key, ctx)
        return SetLoaded(key, cs.name, len(cs), list(cs.rejected))

    def search(self, ctx, query: str, key: str, limit: int = 60) -> tuple[str, list[SearchHit]]:
        h, cs = self.hierarchy(ctx), self.concept_set(key, ctx)
        ctx.check()
        hits = [SearchHit(n, h.lemmas(n)[0].replace("_", " "), short(h.gloss(n)))
                for n in h.search(query, limit, cs)]
        return query, hits

    def details(self, ctx, text: str, key: str) -> SynsetInfo | Unknown:
        h, cs = self.hierarchy(ctx), self.concept_set(key, ctx)
        try:
            name = h.resolve(text)
        except ConceptError as exc:
            return Unknown(text, str(exc), tuple(getattr(exc, "suggestions", ()) or ()))
        if name not in cs:
            return Unknown(text, f"{name} is not in the concept set \u2018{cs.name}\u2019; "
                                 f"choose \u201cAll nouns\u201d to see it.", ())
        ctx.check()
        return h.details(name, cs)

    def subtree_size(self, name: str, key: str) -> int:
        if (key, name) not in self._sizes:
            self._sizes[(key, name)] = len(self.concept_set(key).subtree(name))
        return self._sizes[(key, name)]

    def children(self, ctx, name: str, key: str) -> tuple[str, list[tuple[str, int]]]:
        """Direct hyponyms with their subtree sizes (a size of 1 means a leaf)."""
        h, cs = self.hierarchy(ctx), self.concept_set(key, ctx)
        out = []
        for child in h.hyponyms(name, cs):
            ctx.check()
            out.append((child, self.subtree_size(child, key)))
        return name, out

    def node(self, ctx, name: str, key: str) -> tuple[str, int]:
        self.concept_set(key, ctx)
        return name, self.subtree_size(name, key)


def vocabulary_key(path: str | Path) -> str:
    return str(Path(path).resolve())
