"""The ConVis paper's concept set (7,080 synsets), built by the authors' own rule.

The rule, read from the authors' code (github.com/loris2222/Concept-Visualization:
`language_utils.ConceptModel` with `wordnet_utils.create_graph_to(..., filter=False,
with_repeats=True)`): start from their vocabulary `textsets/physical_objects.txt` (1,980 words);
keep the words nltk's `wordnet.synsets(word, pos=NOUN)` knows; for EVERY noun sense of each word,
every hypernym path to `entity.n.01` following `hypernyms()` only; T is the union of the synsets on
those paths. Instance synsets (Mercury the planet, the Congo river) have no `hypernyms()`, so they
and their paths are left out. The same nltk calls are made here, so the set is the authors' by
construction: 1,927 of the 1,980 words are WordNet nouns and T has 7,080 synsets.

The vocabulary is the authors' file (MIT licence). It is not shipped: it is read from
`$ECLIP_DESKTOP_CONVIS_WORDS`, else `<data dir>/convis/physical_objects.txt` (`$ECLIP_DESKTOP_DATA`,
else ~/.local/share/eclip-desktop),
downloaded there once, pinned to a commit and checked by SHA-256, when the machine is online.
The derived set is cached like the default one (`paper-set-v1-<hash>.json.gz` in the WordNet cache
directory), so later starts do not load nltk.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
import urllib.request
from pathlib import Path

from eclip_desktop.core.errors import ConceptError

NAME = "paper"
REPOSITORY = "https://github.com/loris2222/Concept-Visualization"
COMMIT = "c90b1354df86f2e6ec9eaf044ff138cf3c391797"  # the last commit that changed the file
WORDS_URL = f"https://raw.githubusercontent.com/loris2222/Concept-Visualization/{COMMIT}/textsets/physical_objects.txt"
WORDS_SHA256 = "a3e72609546e91db63a461f2b9cd437d1d4a29dfd65162804418325c01479556"
N_WORDS = 1980
N_SYNSETS = 7080  # the paper's |T|, reproduced by this rule (see docs/CONVIS.md)
RULE = {"name": NAME, "words_sha256": WORDS_SHA256, "senses": "every noun sense (nltk synsets(word, NOUN))",
        "paths": "hypernyms() only, to entity.n.01", "version": 1}


WORDS_ENV = "ECLIP_DESKTOP_CONVIS_WORDS"  # a copy of the authors' file kept elsewhere


def words_path() -> Path:
    from eclip_desktop.core.io.paths import user_data_dir
    given = os.environ.get(WORDS_ENV)
    return Path(given).expanduser() if given else user_data_dir() / "convis" / "physical_objects.txt"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _missing_message(path: Path) -> str:
    return (f"--concept-set {NAME} needs the ConVis authors' vocabulary, which is not at {path}: connect to "
            f"the internet once (it is downloaded and checked), or save {WORDS_URL} there "
            f"(MIT licence, {REPOSITORY})")


def _download(path: Path, timeout: float = 10.0) -> None:
    from eclip_desktop.core.wordnet.provider import online
    if not online():  # a 2-second probe: an offline machine must not wait on urllib's retries
        raise ConceptError(_missing_message(path))
    try:
        with urllib.request.urlopen(WORDS_URL, timeout=timeout) as response:  # noqa: S310 (fixed https URL)
            data = response.read()
    except OSError as exc:
        raise ConceptError(f"{_missing_message(path)} (download failed: {exc})") from exc
    if _sha256(data) != WORDS_SHA256:
        raise ConceptError(f"the downloaded ConVis vocabulary does not match the pinned one (SHA-256); "
                           f"{_missing_message(path)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".words-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def read_words(path: Path | None = None, allow_download: bool = True) -> list[str]:
    """The authors' 1,980 words, checked against the pinned SHA-256."""
    path = Path(path) if path is not None else words_path()
    if not path.is_file():
        if not allow_download:
            raise ConceptError(_missing_message(path))
        _download(path)
    data = path.read_bytes()
    if _sha256(data) != WORDS_SHA256:
        raise ConceptError(f"{path} is not the ConVis authors' physical_objects.txt (its SHA-256 differs); "
                           f"delete it, or save {WORDS_URL} there")
    return [w.strip() for w in data.decode("utf-8").splitlines() if w.strip()]


def reference_rule(wn, words: list[str]) -> tuple[list[str], list[str]]:
    """(sorted synset names of T, words nltk does not know) by the authors' rule, with nltk's reader
    `wn` (the calls their `create_graph_to` makes)."""
    entity = wn.synset("entity.n.01")
    members: set = set()
    unknown = []
    for word in words:
        senses = wn.synsets(word, pos=wn.NOUN)
        if not senses:
            unknown.append(word)
        for sense in senses:
            # Everything above a sense along hypernyms() lies on some path to entity.n.01 (every
            # noun chain ends there), so the union of the paths is the upward closure, when the
            # closure reaches entity at all (not for instance synsets, which have no hypernyms()).
            seen, stack = {sense}, [sense]
            while stack:
                for h in stack.pop().hypernyms():
                    if h not in seen:
                        seen.add(h)
                        stack.append(h)
            if entity in seen and sense != entity:
                members |= seen
    return sorted(s.name() for s in members), unknown


def cache_path(hierarchy) -> Path:
    rule = hashlib.sha1(json.dumps(RULE, sort_keys=True).encode()).hexdigest()[:12]
    return Path(hierarchy.cache_dir) / f"paper-set-v1-{rule}.json.gz"


def _cached(path: Path) -> list[str] | None:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            stored = json.load(fh)
    except Exception:  # a damaged cache file is rebuilt, never fatal
        return None
    return stored["synsets"] if stored.get("rule") == RULE else None


def paper_concept_set(hierarchy, words_file: Path | None = None, allow_download: bool = True):
    """The ConVis paper's concept set as a ConceptSet named 'paper' (cached on disk)."""
    path = cache_path(hierarchy)
    names = _cached(path)
    if names is None or not set(names) <= set(hierarchy.names):
        from eclip_desktop.core.wordnet.provider import ensure_wordnet
        words = read_words(words_file, allow_download)
        names, unknown = reference_rule(ensure_wordnet(allow_download=allow_download), words)
        payload = {"rule": RULE, "n_words": len(words), "unknown_words": unknown, "synsets": names}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".paper-set-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(gzip.compress(json.dumps(payload).encode("utf-8")))
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache costs time on the next start, not correctness
    cs = hierarchy.concept_set_from_synsets(NAME, names)
    # T is closed under hypernyms() and holds no instance synsets, so the project's closure (which
    # follows instance hypernyms only for pure instances) adds nothing.
    if len(cs) != len(names):
        raise ConceptError(f"the paper's concept set has {len(names)} synsets but its closure {len(cs)}")
    return cs
