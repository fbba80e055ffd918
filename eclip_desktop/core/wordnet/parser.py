"""Reading WordNet 3.0's noun files (data, index, sense index, exceptions) into flat arrays.

Faster than iterating nltk's synsets, and what the hierarchy caches as one npz file.
"""
from __future__ import annotations

import re

import numpy as np

from eclip_desktop.core.errors import WordNetError
from eclip_desktop.core.io.shorten import shorten
from eclip_desktop.core.wordnet import provider

#: Bump when the parsed layout or its meaning changes; old caches are ignored.
CACHE_FORMAT = 2
N_NOUN_SYNSETS = 82115

# A candidate word of the default vocabulary: plain lower-case letters.
WORD_RE = re.compile(r"^[a-z]+$")
SEP = "\x1f"  # never occurs in WordNet text; separates items inside one record



def lemma_key(name: str) -> tuple[str, str]:
    # A synset name starts with its first lemma, lower-cased: sorting by it
    # sorts by lemma, and the full name breaks ties between senses.
    return (name.rsplit(".", 2)[0], name)


def normalize_word(text: str) -> str:
    """Lower-case, with runs of spaces/underscores as one underscore (WordNet's form)."""
    return re.sub(r"[\s_]+", "_", text.strip().lower()).strip("_")


# ---------------------------------------------------------------- parsing

def parse_wordnet(root) -> dict[str, np.ndarray]:
    """Read the noun files under an nltk PathPointer into the cache layout; a damaged or truncated
    file is one WordNetError naming it and how to reinstall, never an IndexError."""
    reading = ["data.noun"]

    def read(fileid: str) -> str:
        reading[0] = fileid
        return provider.read_wordnet_file(root, fileid)

    try:
        return _parse(read)
    except WordNetError as exc:
        raise WordNetError(f"{exc} {provider.install_hint()}") from None
    except (IndexError, ValueError, KeyError) as exc:
        where = f"{getattr(root, 'path', root)}/{reading[0]}"
        raise WordNetError(f"the WordNet file {where} is damaged or truncated ({shorten(str(exc), 80) or type(exc).__name__}); "
                           f"remove that copy and reinstall WordNet 3.0. {provider.install_hint()}") from None


def _parse(read) -> dict[str, np.ndarray]:
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
        lemmas.append(SEP.join(words))
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
        examples.append(SEP.join(re.findall(r'"([^"]*)"', gloss)))
        definitions.append(re.sub(r'".*?"', "", gloss).strip().strip("; "))

    if len(offsets) != N_NOUN_SYNSETS:
        raise ValueError(f"{len(offsets)} noun synsets, expected {N_NOUN_SYNSETS}: incomplete or not WordNet 3.0")
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
    children = [sorted(k, key=lambda o: lemma_key(names[at[o]])) for k in kids]
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


