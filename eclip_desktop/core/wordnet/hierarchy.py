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

import bisect
import difflib
import gzip
import hashlib
import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from eclip_desktop.core.errors import ConceptError, WordNetError
from eclip_desktop.core.wordnet import provider

#: Bump when the parsed layout or its meaning changes; old caches are ignored.
CACHE_FORMAT = 2
N_NOUN_SYNSETS = 82115

CONCRETE_LEXNAMES: tuple[str, ...] = (
    "noun.animal", "noun.artifact", "noun.body", "noun.food",
    "noun.object", "noun.plant", "noun.shape", "noun.substance",
)
DEFAULT_MIN_COUNT = 1
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

_NAME_RE = re.compile(r"^(.+)\.([nvasr])\.(\d{2,})$")
_WORD_RE = re.compile(r"^[a-z]+$")
_CACHE_KEYS = frozenset({
    "format", "names", "definitions", "examples", "lemmas", "offsets", "lexidx",
    "parent_ptr", "parent_idx", "child_ptr", "child_idx", "name_order",
    "sense_keys", "sense_ptr", "sense_idx", "sense_cnt", "noun_exc",
})
_SEP = "\x1f"  # never occurs in WordNet text; separates items inside one record


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


def _lemma_key(name: str) -> tuple[str, str]:
    # A synset name starts with its first lemma, lower-cased: sorting by it
    # sorts by lemma, and the full name breaks ties between senses.
    return (name.rsplit(".", 2)[0], name)


def normalize_word(text: str) -> str:
    """Lower-case, with runs of spaces/underscores as one underscore (WordNet's form)."""
    return re.sub(r"[\s_]+", "_", text.strip().lower()).strip("_")


# ---------------------------------------------------------------- parsing

def _parse_wordnet(root) -> dict[str, np.ndarray]:
    """Read the noun files under an nltk PathPointer into the cache layout."""
    read = lambda fileid: provider.read_wordnet_file(root, fileid)  # noqa: E731

    offsets: list[int] = []
    lexidx: list[int] = []
    lemmas: list[str] = []
    definitions: list[str] = []
    examples: list[str] = []
    hypers: list[list[int]] = []
    instances: list[list[int]] = []
    first_lemmas: list[str] = []
    for line in read("data.noun").splitlines():
        if not line or line[0] == " ":
            continue  # licence header
        columns, _, gloss = line.partition("|")
        tok = columns.split()
        offsets.append(int(tok[0]))
        lexidx.append(int(tok[1]))
        n_words = int(tok[3], 16)
        words = tok[4:4 + 2 * n_words:2]
        first_lemmas.append(words[0])
        lemmas.append(_SEP.join(words))
        pos = 4 + 2 * n_words
        n_ptrs = int(tok[pos])
        h: list[int] = []
        inst: list[int] = []
        for k in range(pos + 1, pos + 1 + 4 * n_ptrs, 4):
            symbol, target, tpos = tok[k], int(tok[k + 1]), tok[k + 2]
            if tpos != "n":
                continue
            if symbol == "@":
                h.append(target)
            elif symbol == "@i":
                inst.append(target)
        hypers.append(h)
        instances.append(inst)
        # Same split as nltk: quoted parts are examples, the rest the definition.
        examples.append(_SEP.join(re.findall(r'"([^"]*)"', gloss)))
        definitions.append(re.sub(r'".*?"', "", gloss).strip().strip("; "))

    if len(offsets) != N_NOUN_SYNSETS:
        raise WordNetError(f"WordNet data.noun has {len(offsets)} noun synsets, expected "
                           f"{N_NOUN_SYNSETS}: the files are incomplete or not WordNet 3.0.")
    at = {off: i for i, off in enumerate(offsets)}

    # Sense order per word (index.noun) both names synsets the way nltk does
    # and gives "the first noun sense" of a word.
    tag_counts: dict[tuple[str, int], int] = {}
    for line in read("index.sense").splitlines():
        parts = line.split()
        if len(parts) == 4 and "%1:" in parts[0]:
            tag_counts[(parts[0].split("%", 1)[0], int(parts[1]))] = int(parts[3])
    sense_keys: list[str] = []
    sense_ptr = [0]
    sense_idx: list[int] = []
    sense_cnt: list[int] = []
    sense_offsets: dict[str, list[int]] = {}
    for line in read("index.noun").splitlines():
        if not line or line[0] == " ":
            continue
        tok = line.split()
        n_synsets = int(tok[2])
        n_ptr_symbols = int(tok[3])
        offs = [int(o) for o in tok[6 + n_ptr_symbols:6 + n_ptr_symbols + n_synsets]]
        sense_offsets[tok[0]] = offs
        sense_keys.append(tok[0])
        sense_idx.extend(at[o] for o in offs)
        sense_cnt.extend(tag_counts.get((tok[0], o), 0) for o in offs)
        sense_ptr.append(len(sense_idx))

    names = []
    for first, off in zip(first_lemmas, offsets):
        word = first.lower()
        names.append(f"{word}.n.{sense_offsets[word].index(off) + 1:02d}")

    exc_lines = read("noun.exc").splitlines()

    def csr(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        ptr = np.zeros(len(lists) + 1, dtype=np.int32)
        ptr[1:] = np.cumsum([len(x) for x in lists])
        flat = np.fromiter((at[o] for x in lists for o in x), dtype=np.int32)
        return ptr, flat

    # The parent rule is applied here, once: hypernyms, or instance hypernyms
    # for pure instances (see the module docstring).
    parents = [h or inst for h, inst in zip(hypers, instances)]
    parent_ptr, parent_idx = csr(parents)
    kids: list[list[int]] = [[] for _ in offsets]
    for i, ps in enumerate(parents):
        for p in ps:
            kids[at[p]].append(offsets[i])
    children = [sorted(k, key=lambda o: _lemma_key(names[at[o]])) for k in kids]
    child_ptr, child_idx = csr(children)
    name_order = np.array(sorted(range(len(names)), key=names.__getitem__), dtype=np.int32)
    blob = lambda items: np.frombuffer("\n".join(items).encode("utf-8"), dtype=np.uint8)  # noqa: E731
    return {
        "format": np.array([CACHE_FORMAT], dtype=np.int32),
        "names": blob(names),
        "definitions": blob(definitions),
        "examples": blob(examples),
        "lemmas": blob(lemmas),
        "offsets": np.array(offsets, dtype=np.int32),
        "lexidx": np.array(lexidx, dtype=np.uint8),
        "parent_ptr": parent_ptr, "parent_idx": parent_idx,
        "child_ptr": child_ptr, "child_idx": child_idx,
        "name_order": name_order,
        "sense_keys": blob(sense_keys),
        "sense_ptr": np.array(sense_ptr, dtype=np.int32),
        "sense_idx": np.array(sense_idx, dtype=np.int32),
        "sense_cnt": np.array(sense_cnt, dtype=np.int32),
        "noun_exc": blob(exc_lines),
    }


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ---------------------------------------------------------------- service

class Hierarchy:
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
            arrays = _parse_wordnet(wordnet_root)
            try:
                _atomic_write(self.nouns_cache_path,
                              lambda fh: np.savez(fh, **arrays))
            except OSError:
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
        return self._lemmas_raw[self._idx(name)].split(_SEP)

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
            lemmas=self._lemmas_raw[i].split(_SEP),
            examples=[e for e in self._examples_raw[i].split(_SEP) if e],
            lexname=provider.LEXNAMES[int(self._lexidx[i])],
            offset=int(self._offsets[i]),
            depth=min(len(p) for p in paths) - 1,
            hypernym_paths=paths,
            n_hyponyms=self._cptr[i + 1] - self._cptr[i],
            subtree_size=subtree_size,
        )

    # -- words

    def _base_forms(self, word: str) -> list[str]:
        # Noun half of WordNet's morphy: exception list, then suffix rules.
        forms = [word] + self._exc.get(word, [])
        for suffix, repl in (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"),
                             ("ches", "ch"), ("shes", "sh"), ("men", "man"), ("ies", "y")):
            if word.endswith(suffix) and len(word) > len(suffix):
                forms.append(word[: len(word) - len(suffix)] + repl)
        return forms

    def suggest(self, text: str, n: int = 5) -> list[str]:
        """Up to ``n`` known words that look like ``text`` (for typo messages).

        Words one edit away (a swapped, missing, extra or wrong letter) come
        first, most frequent first: difflib's ratio alone ranks "dago" above
        "dog" for "dgo". difflib's close matches fill the rest.
        """
        word = normalize_word(text)
        if not word:
            return []
        at = self._sense_at
        letters = "abcdefghijklmnopqrstuvwxyz_-"
        splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
        edits = {a + b[1:] for a, b in splits if b}
        edits |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
        edits |= {a + c + b[1:] for a, b in splits if b for c in letters}
        edits |= {a + c + b for a, b in splits for c in letters}
        near = sorted((e for e in edits if e in at and e != word),
                      key=lambda e: (-self._key_count(at[e]), e))
        slack = max(2, len(word) // 3)
        # Comparing against words of similar length only keeps this well under a second.
        pool = [k for k in self._sense_keys if abs(len(k) - len(word)) <= slack]
        out = near[:n]
        for k in difflib.get_close_matches(word, pool, n=n, cutoff=0.6):
            if len(out) >= n:
                break
            if k not in out:
                out.append(k)
        return out

    def _unknown(self, text: str, message: str, stem: str) -> ConceptError:
        sugg = self.suggest(stem)
        hint = f" Did you mean: {', '.join(s.replace('_', ' ') for s in sugg)}?" if sugg else ""
        err = ConceptError(message + hint)
        err.suggestions = sugg
        return err

    def resolve(self, name_or_word: str) -> str:
        """A synset name as given, or a word's first noun sense."""
        text = name_or_word.strip()
        m = _NAME_RE.match(text)
        if m:
            if text in self._index:
                return text
            if m.group(2) != "n":
                raise ConceptError(f"'{text}' is not a noun synset; concepts must be nouns.")
            senses = self.senses(m.group(1))
            if senses:
                # The word exists but names are built from each synset's first
                # lemma (bank's 2nd sense is depository_financial_institution.n.01).
                more = f" and {len(senses) - 5} more" if len(senses) > 5 else ""
                err = ConceptError(f"Unknown noun synset '{text}'. The noun senses of "
                                   f"'{m.group(1)}' are: {', '.join(senses[:5])}{more}.")
                err.suggestions = senses[:5]
                raise err
            raise self._unknown(text, f"Unknown noun synset '{text}'.", m.group(1))
        word = normalize_word(text)
        for form in self._base_forms(word):
            k = self._sense_at.get(form)
            if k is not None:
                return self._names[self._sense_idx[self._sense_ptr[k]]]
        raise self._unknown(text, f"'{text}' is not a WordNet noun.", word)

    # -- search

    def _gloss_index(self) -> tuple[str, list[int]]:
        with self._lock:
            if self._gloss_blob is None:
                # Lower-case each gloss before joining: lower() may change a
                # string's length, and the offsets must match the blob.
                lowered = [d.lower() for d in self._definitions]
                blob = "\n".join(lowered)
                starts = [0]
                for d in lowered[:-1]:
                    starts.append(starts[-1] + len(d) + 1)
                self._gloss_blob = (blob, starts)
            return self._gloss_blob

    def _search_keys(self, concept_set: ConceptSet | None) -> list[str]:
        # Words of the set's synsets only: a short query inside a small set
        # would otherwise rank tens of thousands of words that cannot match.
        key = "" if concept_set is None else concept_set.content_hash
        with self._lock:
            if key not in self._sorted_keys:
                if len(self._sorted_keys) > 8:
                    self._sorted_keys.clear()
                if concept_set is None or len(concept_set) == len(self._names):
                    words = self._sense_keys
                else:
                    words = {w.lower() for n in concept_set.synsets
                             for w in self._lemmas_raw[self._idx(n)].split(_SEP)}
                    words = [w for w in words if w in self._sense_at]
                self._sorted_keys[key] = sorted(words)
            return self._sorted_keys[key]

    def search(self, query: str, limit: int = 50,
               concept_set: ConceptSet | None = None) -> list[str]:
        """Synset names matching ``query``, best first.

        Order: exact synset name; synsets of the word itself (WordNet sense
        order); words starting with the query, then words containing it (whole
        word parts first; single words and frequent words before rare
        compounds); finally synsets whose gloss contains the query as a word.
        """
        q = normalize_word(query)
        if not q or limit <= 0:
            return []
        out: list[str] = []
        seen: set[int] = set()

        def take(indices: Iterable[int]) -> bool:
            for i in indices:
                if len(out) >= limit:
                    return True
                if i in seen:
                    continue
                seen.add(i)
                name = self._names[i]
                if concept_set is None or name in concept_set:
                    out.append(name)
                    if len(out) >= limit:
                        return True
            return False

        def senses_of(k: int) -> list[int]:
            return self._sense_idx[self._sense_ptr[k]:self._sense_ptr[k + 1]]

        m = _NAME_RE.match(query.strip())
        if m:
            # A synset name: the synset itself, then the other senses of its word.
            if query.strip() in self._index:
                take([self._index[query.strip()]])
            k = self._sense_at.get(normalize_word(m.group(1)))
            if k is not None:
                take(senses_of(k))
            return out
        exact = self._sense_at.get(q)
        if exact is not None and take(senses_of(exact)):
            return out

        keys = self._search_keys(concept_set)
        prefix: list[str] = []
        j = bisect.bisect_left(keys, q)
        while j < len(keys) and keys[j].startswith(q):
            if keys[j] != q:
                prefix.append(keys[j])
            j += 1
        at = self._sense_at

        def rank(k: str) -> tuple:
            return (k.count("_") + k.count("-"), -self._key_count(at[k]), len(k), k)

        for k in sorted(prefix, key=rank):
            if take(senses_of(at[k])):
                return out
        inner = [k for k in keys if q in k and not k.startswith(q)]
        word_part = re.compile(r"(^|[_\-])" + re.escape(q) + r"($|[_\-])")
        for k in sorted(inner, key=lambda k: (word_part.search(k) is None,) + rank(k)):
            if take(senses_of(at[k])):
                return out

        blob, starts = self._gloss_index()
        pattern = re.compile(r"\b" + re.escape(q.replace("_", " ")) + r"\b")
        hits = {bisect.bisect_right(starts, m.start()) - 1 for m in pattern.finditer(blob)}
        counts = self._synset_counts()
        take(sorted(hits, key=lambda i: (-counts[i], self._names[i])))
        return out

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
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConceptError(f"{path} is not a UTF-8 text file.") from exc
        except OSError as exc:
            raise ConceptError(f"Cannot read the concept file {path}: {exc.strerror or exc}.") from exc
        seeds: list[int] = []
        rejected: list[tuple[int, str, str]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            item = line.split("#", 1)[0].strip()
            if not item:
                continue
            try:
                seeds.append(self._idx(self.resolve(item)))
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
            if len(key) < DEFAULT_RULE["min_letters"] or not _WORD_RE.match(key):
                continue
            pos = self._sense_ptr[k]  # the first, most frequent sense
            i = self._sense_idx[pos]
            lex = int(self._lexidx[i])
            if (self._sense_cnt[pos] >= DEFAULT_RULE["min_count"] and lex in lex_ok
                    and key in self._lemmas_raw[i].split(_SEP)  # not a proper noun
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
                    _atomic_write(path, lambda fh: fh.write(
                        gzip.compress(json.dumps(payload).encode("utf-8"))))
                except OSError:
                    pass
            cs = self._make_set("default", (self._index[n] for n in names))
            self._sets["default"] = cs
            return cs
