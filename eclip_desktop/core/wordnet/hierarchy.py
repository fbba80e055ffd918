"""The WordNet 3.0 noun hierarchy as a service: search, details, concept sets.

Parents
    A synset's parents are its ``hypernyms()``. The 7,725 *instance* synsets
    (people, cities, planets ...) have no ``hypernyms()`` at all, only
    ``instance_hypernyms()``; for those alone the instance hypernyms are the
    parents, so that every noun synset reaches ``entity.n.01``. For every other
    synset, paths and closures follow ``hypernyms()`` only (five synsets that
    have both kinds keep only their ``hypernyms()``).

Default vocabulary (``default_concept_set``), derived from WordNet, not copied
    1. Candidate words are the single-token alphabetic noun lemmas of WordNet
       with at least 3 letters.
    2. A word is chosen when its *first* noun sense (WordNet orders senses by
       corpus frequency, so this is the word's dominant meaning) is a common,
       concrete thing:

       - the sense lies under ``physical_entity.n.01``, or is in noun.shape
         (plane figures sit under abstraction.n.06 in WordNet);
       - its lexicographer file is one of :data:`CONCRETE_LEXNAMES`
         (animal, artifact, body, food, object, plant, shape, substance);
       - the word is written in lower case in that synset (not a proper noun:
         "china" is out because its first sense is the country);
       - the word's tag count for that sense (SemCor frequency, column 4 of
         ``index.sense``, what nltk's ``Lemma.count()`` returns) is at least
         :data:`DEFAULT_MIN_COUNT`, i.e. the sense occurs in the sense-tagged
         corpus at all.
    3. T is the union, over the chosen words, of every noun sense of the word
       and all its hypernym paths to ``entity.n.01`` (parents as above).
    :data:`DEFAULT_RULE` records the parameters; sizes are in docs/CONCEPTS.md.

Cache
    The first start parses ``data.noun``, ``index.noun``, ``index.sense`` and
    ``noun.exc`` (about 2 s, much faster than iterating nltk's synsets) and
    writes ``nouns-v<N>.npz`` into ``<cache dir>/wordnet``: names, glosses,
    examples, lemmas, parents, sense order and tag counts, as UTF-8 blobs and
    int32 arrays (no pickle). The default set's synset list is cached beside it
    as JSON. Later starts read only these files and never import nltk.
"""
from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eclip_desktop.core.errors import ConceptError, EclipError
from eclip_desktop.core.io.atomic import atomic_write_bytes
from eclip_desktop.core.wordnet import provider
from eclip_desktop.core.wordnet.concept_set import (  # noqa: F401  (re-exported: the names users import)
    CONCRETE_LEXNAMES,
    DEFAULT_MIN_COUNT,
    DEFAULT_RULE,
    ConceptSet,
    ConceptSetsMixin,
)
from eclip_desktop.core.wordnet.parser import (  # noqa: F401
    CACHE_FORMAT,
    N_NOUN_SYNSETS,
    SEP,
    lemma_key,
    normalize_word,
    parse_wordnet,
)
from eclip_desktop.core.wordnet.search import SearchMixin

_CACHE_KEYS = frozenset({
    "format", "names", "definitions", "examples", "lemmas", "offsets", "lexidx",
    "parent_ptr", "parent_idx", "child_ptr", "child_idx", "name_order",
    "sense_keys", "sense_ptr", "sense_idx", "sense_cnt", "noun_exc",
})

@dataclass(frozen=True)
class SynsetInfo:
    name: str
    gloss: str
    lemmas: list[str]
    examples: list[str]
    lexname: str
    offset: int
    depth: int
    hypernym_paths: list[list[str]]
    n_hyponyms: int
    subtree_size: int



class Hierarchy(SearchMixin, ConceptSetsMixin):
    """Noun synsets of WordNet 3.0, served from the on-disk cache.

    ``wordnet_root`` (an nltk PathPointer) is only needed when the cache is
    missing; by default :func:`provider.find_wordnet` supplies it.
    ``loaded_from_cache`` tells whether this instance avoided WordNet itself.
    """

    def __init__(self, cache_dir: Path | None = None, wordnet_root=None,
                 data_dir: Path | None = None, allow_download: bool = True) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir else provider.user_cache_dir() / "wordnet"
        self._lock = threading.RLock()
        self._sets: dict[str, ConceptSet] = {}
        arrays = self._read_cache()
        self.loaded_from_cache = arrays is not None
        if arrays is None:
            if wordnet_root is None:
                wordnet_root = provider.find_wordnet(
                    data_dir, allow_download=allow_download).root
            arrays = parse_wordnet(wordnet_root)
            try:
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                buffer = io.BytesIO()
                np.savez(buffer, **arrays)
                atomic_write_bytes(self.nouns_cache_path, buffer.getvalue())
            except (OSError, EclipError):
                pass  # a read-only cache dir costs speed on the next start, not correctness
        self._unpack(arrays)

    # -- storage

    @property
    def nouns_cache_path(self) -> Path:
        return self.cache_dir / f"nouns-v{CACHE_FORMAT}.npz"

    def _read_cache(self) -> dict[str, np.ndarray] | None:
        try:
            with np.load(self.nouns_cache_path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except Exception:  # any damage (truncated zip, bad member) just means: rebuild
            return None
        try:
            if int(arrays["format"][0]) != CACHE_FORMAT or len(arrays["offsets"]) != N_NOUN_SYNSETS:
                return None
        except (KeyError, IndexError):
            return None
        return arrays if _CACHE_KEYS <= arrays.keys() else None

    def _unpack(self, a: dict[str, np.ndarray]) -> None:
        text = lambda k: a[k].tobytes().decode("utf-8").split("\n")  # noqa: E731
        self._names: list[str] = text("names")
        self._definitions: list[str] = text("definitions")
        self._examples_raw: list[str] = text("examples")
        self._lemmas_raw: list[str] = text("lemmas")
        self._offsets = a["offsets"]
        self._lexidx = a["lexidx"]
        self._index = {n: i for i, n in enumerate(self._names)}
        # Flat lists sliced on demand: building 82k tuples up front would
        # cost more than a whole second start is allowed to take.
        self._pptr, self._pidx = a["parent_ptr"].tolist(), a["parent_idx"].tolist()
        self._cptr, self._cidx = a["child_ptr"].tolist(), a["child_idx"].tolist()
        self._name_order = a["name_order"].tolist()
        self._sense_keys: list[str] = text("sense_keys")
        self._sense_ptr = a["sense_ptr"].tolist()
        self._sense_idx = a["sense_idx"].tolist()
        self._sense_cnt = a["sense_cnt"].tolist()
        self._sense_at = {k: i for i, k in enumerate(self._sense_keys)}
        self._exc: dict[str, list[str]] = {}
        for line in text("noun_exc"):
            parts = line.split()
            if len(parts) >= 2:
                self._exc[parts[0]] = parts[1:]
        self._sorted_keys: dict[str, list[str]] = {}
        self._gloss_blob: tuple[str, list[int]] | None = None

    # -- basic lookups

    def __len__(self) -> int:
        return len(self._names)

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def _idx(self, name: str) -> int:
        i = self._index.get(name)
        if i is None:
            raise ConceptError(f"Unknown noun synset '{name}'.")
        return i

    def _par(self, i: int) -> list[int]:
        return self._pidx[self._pptr[i]:self._pptr[i + 1]]

    def _kids(self, i: int) -> list[int]:
        return self._cidx[self._cptr[i]:self._cptr[i + 1]]

    def parents(self, name: str) -> list[str]:
        return [self._names[p] for p in self._par(self._idx(name))]

    def lemmas(self, name: str) -> list[str]:
        return self._lemmas_raw[self._idx(name)].split(SEP)

    def gloss(self, name: str) -> str:
        return self._definitions[self._idx(name)]

    def glosses(self, concept_set: ConceptSet) -> list[str]:
        """Definitions in ``concept_set.synsets`` order (what ConVis encodes)."""
        return [self._definitions[self._idx(n)] for n in concept_set.synsets]

    def lexname(self, name: str) -> str:
        return provider.LEXNAMES[int(self._lexidx[self._idx(name)])]

    def senses(self, word: str) -> list[str]:
        """Noun synsets of a word in WordNet's sense order (no morphology)."""
        k = self._sense_at.get(normalize_word(word))
        if k is None:
            return []
        return [self._names[i] for i in self._sense_idx[self._sense_ptr[k]:self._sense_ptr[k + 1]]]

    def _key_count(self, k: int) -> int:
        return sum(self._sense_cnt[self._sense_ptr[k]:self._sense_ptr[k + 1]])

    # -- hierarchy

    def hypernym_paths(self, name: str) -> list[list[str]]:
        """Every path root → ``name`` along parents, sorted for stable output."""
        memo: dict[int, list[list[int]]] = {}

        def up(i: int) -> list[list[int]]:
            if i not in memo:
                ps = self._par(i)
                memo[i] = [[i]] if not ps else [path + [i] for p in ps for path in up(p)]
            return memo[i]

        paths = [[self._names[j] for j in path] for path in up(self._idx(name))]
        return sorted(paths, key=lambda p: (len(p), p))

    def hyponyms(self, name: str, concept_set: ConceptSet | None = None) -> list[str]:
        """Direct hyponyms (instances included), sorted by lemma."""
        if concept_set is not None:
            if name not in concept_set:
                raise ConceptError(f"{name} is not in the concept set '{concept_set.name}'.")
            return list(concept_set.children.get(name, ()))
        return [self._names[j] for j in self._kids(self._idx(name))]

    def _descendants(self, i: int) -> set[int]:
        seen: set[int] = set()
        stack = [i]
        while stack:
            for c in self._kids(stack.pop()):
                if c not in seen:
                    seen.add(c)
                    stack.append(c)
        return seen

    def details(self, name: str, concept_set: ConceptSet | None = None) -> SynsetInfo:
        i = self._idx(name)
        paths = self.hypernym_paths(name)
        if concept_set is not None:
            subtree_size = len(concept_set.subtree(name))
        else:
            subtree_size = 1 + len(self._descendants(i))
        return SynsetInfo(
            name=name,
            gloss=self._definitions[i],
            lemmas=self._lemmas_raw[i].split(SEP),
            examples=[e for e in self._examples_raw[i].split(SEP) if e],
            lexname=provider.LEXNAMES[int(self._lexidx[i])],
            offset=int(self._offsets[i]),
            depth=min(len(p) for p in paths) - 1,
            hypernym_paths=paths,
            n_hyponyms=self._cptr[i + 1] - self._cptr[i],
            subtree_size=subtree_size,
        )

    # -- words

