"""WordNet provider and noun hierarchy: offline discovery, cache, concept sets.

One session-scoped copy of the Debian WordNet (under a tmp data dir) and one
built cache are shared; nltk's reader is loaded once, only to cross-check.
"""
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import nltk
import pytest

from eclip_desktop.core.errors import ConceptError, EclipError, WordNetError
from eclip_desktop.core.wordnet import hierarchy as hmod
from eclip_desktop.core.wordnet import provider
from eclip_desktop.core.wordnet.hierarchy import ConceptSet, Hierarchy

SYSTEM = Path("/usr/share/wordnet")
ROOT_DIR = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    not (SYSTEM / "data.noun").is_file() or not (SYSTEM / "index.sense").is_file(),
    reason="needs Debian's wordnet-base and wordnet-sense-index in /usr/share/wordnet",
)


@pytest.fixture(scope="session")
def wn(tmp_path_factory):
    """A private data dir + cache dir, the located WordNet and a built Hierarchy."""
    base = tmp_path_factory.mktemp("wn")
    mp = pytest.MonkeyPatch()
    mp.setenv("ECLIP_DESKTOP_DATA", str(base / "data"))
    mp.setenv("ECLIP_DESKTOP_CACHE", str(base / "cache"))
    for var in ("ECLIP_DESKTOP_WORDNET", "WNHOME", "WNSEARCHDIR"):
        mp.delenv(var, raising=False)
    # Only our data dir and the explicitly passed system dir may be found.
    mp.setattr(nltk.data, "path", [])
    mp.setattr(provider, "default_system_dirs", lambda: [])
    t0 = time.perf_counter()
    location = provider.find_wordnet(system_dirs=[SYSTEM], allow_download=False)
    t1 = time.perf_counter()
    h = Hierarchy(wordnet_root=location.root)
    t2 = time.perf_counter()

    class NS:
        pass

    ns = NS()
    ns.base, ns.location, ns.h = base, location, h
    ns.data_dir = base / "data" / "nltk_data"
    ns.cache_dir = base / "cache" / "wordnet"
    ns.copy_seconds, ns.build_seconds = t1 - t0, t2 - t1
    yield ns
    mp.undo()


@pytest.fixture(scope="session")
def reader(wn):
    return provider.ensure_wordnet(system_dirs=[SYSTEM], allow_download=False)


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No WordNet anywhere: empty nltk path, no system dirs, Debian platform."""
    monkeypatch.setattr(nltk.data, "path", [])
    monkeypatch.setattr(provider, "default_system_dirs", lambda: [])
    monkeypatch.setattr(provider, "_os_release_ids", lambda: {"debian"})
    monkeypatch.setattr(provider.sys, "platform", "linux")
    return tmp_path


# ---------------------------------------------------------------- provider

def test_system_wordnet_is_copied_with_lexnames(wn):
    assert wn.location.origin == "system"
    assert wn.location.source == str(SYSTEM)
    copy = wn.data_dir / "corpora" / "wordnet"
    assert Path(wn.location.path).resolve() == copy.resolve()
    for name in provider.SYSTEM_FILES:
        assert (copy / name).stat().st_size == (SYSTEM / name).stat().st_size, name
    lines = (copy / "lexnames").read_text().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3" and lines[3] == "03\tnoun.Tops\t1"
    assert lines[44] == "44\tadj.ppl\t3"
    # The atomic copy leaves no temporary directory behind.
    assert [p.name for p in (wn.data_dir / "corpora").iterdir()] == ["wordnet"]
    assert str(wn.data_dir) in nltk.data.path


def test_lexnames_table_agrees_with_sense_keys():
    # Every sense key names its lexicographer file by number: the table must
    # give a file of the right part of speech for every one of them.
    pos = {"1": "noun.", "2": "verb.", "3": "adj.", "4": "adv.", "5": "adj."}
    seen = set()
    with open(SYSTEM / "index.sense", encoding="utf-8") as fh:
        for line in fh:
            ss_type, lex_filenum = line.split("%", 1)[1].split(":")[:2]
            assert provider.LEXNAMES[int(lex_filenum)].startswith(pos[ss_type]), line
            seen.add(int(lex_filenum))
    assert seen == set(range(45))


def test_second_find_reuses_the_copy(wn):
    copy = wn.data_dir / "corpora" / "wordnet"
    before = (copy / "data.noun").stat().st_mtime_ns
    again = provider.find_wordnet(system_dirs=[SYSTEM], allow_download=False)
    assert again.origin == "nltk"
    assert (copy / "data.noun").stat().st_mtime_ns == before


def test_reader_loads_wordnet_30(reader):
    assert reader.get_version() == "3.0"
    dog = reader.synset("dog.n.01")
    assert dog.lexname() == "noun.animal"  # read through our lexnames table
    assert provider.ensure_wordnet(system_dirs=[SYSTEM], allow_download=False) is reader


def test_ensure_wordnet_loads_once_across_threads(wn, monkeypatch, tmp_path):
    calls = []

    def slow_load(location):
        calls.append(location)
        time.sleep(0.2)
        return object()

    monkeypatch.setattr(provider, "_load_reader", slow_load)
    results = []
    # A system_dirs value no other test uses gives a fresh cache key.
    threads = [threading.Thread(target=lambda: results.append(provider.ensure_wordnet(
        system_dirs=[SYSTEM, tmp_path], allow_download=False))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(results) == 4 and all(r is results[0] for r in results)


def test_missing_wordnet_without_download_names_apt(isolated, monkeypatch):
    def no_probe(*a, **k):
        raise AssertionError("must not probe the network when downloads are off")

    monkeypatch.setattr(provider, "_online", no_probe)
    with pytest.raises(WordNetError) as err:
        provider.ensure_wordnet(data_dir=isolated / "data", system_dirs=[isolated / "nope"],
                                allow_download=False)
    msg = str(err.value)
    assert "sudo apt-get install wordnet-base wordnet-sense-index" in msg
    assert "python -m nltk.downloader wordnet" in msg
    assert "ECLIP_DESKTOP_WORDNET" in msg
    assert isinstance(err.value, EclipError)
    assert not (isolated / "data" / "corpora" / "wordnet").exists()


def test_offline_probe_failure_skips_download(isolated, monkeypatch):
    monkeypatch.setattr(provider, "_online", lambda timeout=2.0: False)

    def no_download(data_dir):
        raise AssertionError("must not download when offline")

    monkeypatch.setattr(provider, "_download", no_download)
    with pytest.raises(WordNetError, match="not found"):
        provider.find_wordnet(data_dir=isolated / "data", allow_download=True)


def test_install_hint_per_platform(monkeypatch):
    assert "brew install wordnet" in provider.install_hint("darwin")
    assert "apt-get" not in provider.install_hint("win32")
    assert "python -m nltk.downloader wordnet" in provider.install_hint("win32")
    monkeypatch.setattr(provider, "_os_release_ids", lambda: {"fedora"})
    assert "apt-get" not in provider.install_hint("linux")


def test_wrong_version_is_rejected(isolated):
    fake = isolated / "wn31"
    fake.mkdir()
    for name in provider.SYSTEM_FILES:
        (fake / name).write_text("x\n")
    (fake / "data.adj").write_text("  1 WordNet 3.1 Copyright 2011 by Princeton University.\n")
    with pytest.raises(WordNetError, match=r"WordNet 3\.1"):
        provider.find_wordnet(data_dir=isolated / "data", system_dirs=[fake],
                              allow_download=False)


def test_failed_copy_leaves_nothing_behind(isolated, monkeypatch):
    real_copy = shutil.copyfile

    def failing_copy(src, dst, *a, **k):
        if Path(src).name == "data.noun":
            raise OSError(28, "No space left on device")
        return real_copy(src, dst, *a, **k)

    monkeypatch.setattr(provider.shutil, "copyfile", failing_copy)
    with pytest.raises(WordNetError, match="Cannot copy WordNet"):
        provider.find_wordnet(data_dir=isolated / "data", system_dirs=[SYSTEM],
                              allow_download=False)
    assert list((isolated / "data" / "corpora").iterdir()) == []


def test_user_dirs_follow_env(monkeypatch, tmp_path):
    monkeypatch.delenv("ECLIP_DESKTOP_DATA", raising=False)
    monkeypatch.delenv("ECLIP_DESKTOP_CACHE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xd"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert provider.default_nltk_data_dir() == tmp_path / "xd" / "eclip-desktop" / "nltk_data"
    assert provider.user_cache_dir() == Path.home() / ".cache" / "eclip-desktop"
    monkeypatch.setenv("ECLIP_DESKTOP_CACHE", str(tmp_path / "c"))
    assert provider.user_cache_dir() == tmp_path / "c"


# ---------------------------------------------------------------- hierarchy

def test_all_noun_synsets_are_cached(wn):
    assert not wn.h.loaded_from_cache
    assert wn.h.nouns_cache_path.is_file()
    assert len(wn.h) == 82115
    assert len(wn.h.all_nouns_concept_set()) == 82115


def test_parsed_synsets_match_nltk(wn, reader):
    h = wn.h
    names = random.Random(0).sample(h.names, 300) + ["dog.n.01", "einstein.n.01", "entity.n.01"]
    for name in names:
        s = reader.synset(name)
        info = h.details(name)
        assert info.gloss == s.definition()
        assert info.lemmas == s.lemma_names()
        assert info.examples == s.examples()
        assert info.lexname == s.lexname()
        assert info.offset == s.offset()
        expected = s.hypernyms() or s.instance_hypernyms()
        assert sorted(h.parents(name)) == sorted(x.name() for x in expected)
        assert info.depth == s.min_depth()


def test_dog_has_several_hypernym_paths(wn):
    info = wn.h.details("dog.n.01")
    paths = info.hypernym_paths
    assert len(paths) >= 2
    assert all(p[0] == "entity.n.01" and p[-1] == "dog.n.01" for p in paths)
    assert any("domestic_animal.n.01" in p for p in paths)
    assert any("canine.n.02" in p for p in paths)
    assert info.depth == 8 and info.n_hyponyms == len(wn.h.hyponyms("dog.n.01")) > 10
    assert info.subtree_size > info.n_hyponyms


def test_instances_reach_the_root(wn):
    paths = wn.h.hypernym_paths("einstein.n.01")
    assert paths and all(p[0] == "entity.n.01" for p in paths)


def test_hyponyms_sorted_by_lemma(wn):
    kids = wn.h.hyponyms("polygon.n.01")
    assert "triangle.n.01" in kids
    keys = [k.rsplit(".", 2)[0] for k in kids]
    assert keys == sorted(keys)


def test_resolve_words_and_names(wn, reader):
    h = wn.h
    assert h.resolve("dog.n.01") == "dog.n.01"
    for word in ("dog", "Dogs", "mice", "geese", "boxes", "hot dog", "Polygon"):
        assert h.resolve(word) == reader.synsets(word.replace(" ", "_"), "n")[0].name(), word
    with pytest.raises(ConceptError, match="not a noun"):
        h.resolve("run.v.01")


def test_resolve_typo_suggests(wn):
    with pytest.raises(ConceptError) as err:
        wn.h.resolve("dgo")
    assert "dog" in err.value.suggestions and len(err.value.suggestions) <= 5
    assert "dog" in str(err.value)
    with pytest.raises(ConceptError, match="polygon"):
        wn.h.resolve("polygn.n.01")
    with pytest.raises(ConceptError) as err:
        wn.h.resolve("bank.n.02")  # exists in nltk only as depository_financial_institution.n.01
    assert "depository_financial_institution.n.01" in err.value.suggestions


def test_search_ranking(wn):
    h = wn.h
    dog = h.search("dog")
    assert dog[0] == "dog.n.01" and len(dog) == 50
    assert h.search("DOG", limit=10) == h.search("dog", limit=10)
    assert h.search("hot dog") == h.search("hot_dog") and "hotdog.n.01" in h.search("hot dog")
    assert h.search("dog.n.03")[0] == "dog.n.03"
    cat = h.search("cat", limit=100)
    senses = h.senses("cat")
    assert cat[: len(senses)] == senses and senses[0] == "cat.n.01"  # exact word first
    assert "catalog.n.01" in cat  # then words starting with it
    poly = h.search("polygo", limit=10)
    assert poly[0] == "polygon.n.01"
    # Gloss matches ("...the common wolf...") come after lemma matches, whole words only.
    wolf = h.search("wolf", limit=500)
    assert "dog.n.01" in wolf and wolf.index("dog.n.01") > wolf.index("wolf.n.01")
    assert "dog.n.01" not in h.search("wol", limit=5000)
    assert h.search("") == [] and h.search("zzzzqqq") == []


def test_search_within_a_concept_set(wn):
    shapes = wn.h.concept_set_from_synsets("shapes", ["triangle.n.01", "square.n.01"])
    found = wn.h.search("a", limit=100, concept_set=shapes)
    assert found and all(shapes.contains(n) for n in found)
    assert "dog.n.01" not in wn.h.search("dog", concept_set=shapes)


def test_small_set_subtree(wn):
    h = wn.h
    shapes = h.concept_set_from_synsets("shapes", [
        "circle.n.01", "square.n.01", "triangle.n.01", "rectangle.n.01",
        "pentagon.n.01", "hexagon.n.01", "ellipse.n.01"])
    sub = shapes.subtree("polygon.n.01")
    assert sub[0] == "polygon.n.01"
    assert {"triangle.n.01", "square.n.01", "hexagon.n.01"} <= set(sub)
    assert "circle.n.01" not in sub and "dog.n.01" not in sub
    assert shapes.roots() == ["entity.n.01"]
    assert shapes.synsets == tuple(sorted(shapes.synsets))
    assert set(h.hyponyms("polygon.n.01", shapes)) < set(h.hyponyms("polygon.n.01"))
    assert h.details("polygon.n.01", shapes).subtree_size == len(sub)
    with pytest.raises(ConceptError):
        shapes.subtree("dog.n.01")
    glosses = h.glosses(shapes)
    assert len(glosses) == len(shapes)
    assert glosses[shapes.index["polygon.n.01"]] == h.gloss("polygon.n.01")


def test_content_hash(wn):
    h = wn.h
    a = h.concept_set_from_synsets("a", ["square.n.01", "triangle.n.01"])
    b = h.concept_set_from_synsets("b", ["triangle.n.01", "square.n.01"])
    c = h.concept_set_from_synsets("c", ["circle.n.01"])
    assert a.content_hash == b.content_hash != c.content_hash
    assert a.content_hash == hashlib.sha1("\n".join(sorted(a.synsets)).encode()).hexdigest()


def _assert_closed(h: Hierarchy, cs: ConceptSet) -> None:
    for name in cs.synsets:
        parents = h.parents(name)
        assert all(cs.contains(p) for p in parents), name
        assert set(cs.parents[name]) == set(parents)


def test_default_set_size_and_closure(wn):
    h = wn.h
    cs = h.default_concept_set()
    assert 5000 <= len(cs) <= 10000
    assert cs.roots() == ["entity.n.01"]
    _assert_closed(h, cs)
    assert cs.synsets == tuple(sorted(cs.synsets))
    stored = json.loads(__import__("gzip").decompress(h.default_set_cache_path.read_bytes()))
    assert stored["synsets"] == list(cs.synsets)
    words = stored["words"]
    assert {"dog", "car", "tree", "apple", "triangle", "circle", "bus"} <= set(words)
    assert "africa" not in words and "china" not in words  # proper nouns are not vocabulary
    assert "idea" not in words and "tiger" not in words  # abstract first sense
    for word in random.Random(1).sample(words, 50) + ["dog"]:
        assert all(cs.contains(s) for s in h.senses(word)), word  # every noun sense
    assert cs.contains("frump.n.01")  # dog's "unattractive woman" sense


def test_concept_file_reports_junk(wn, tmp_path):
    path = tmp_path / "animals.txt"
    path.write_text(
        "# my concepts\n"       # 1
        "dog\n"                 # 2
        "  cat   # a pet\n"     # 3
        "\n"                    # 4
        "dgo\n"                 # 5
        "xqzv qq\n"             # 6
        "dog.n.01\n"            # 7
        "run.v.01\n"            # 8
        "polygon.n.01\n"        # 9
        "notasynset.n.07\n",    # 10
        encoding="utf-8")
    cs = wn.h.concept_set_from_file(path)
    assert [r[0] for r in cs.rejected] == [5, 6, 8, 10]
    assert cs.rejected[0][1] == "dgo" and "dog" in cs.rejected[0][2]
    assert {"dog.n.01", "cat.n.01", "polygon.n.01", "entity.n.01"} <= set(cs.synsets)
    assert cs.name == "animals"
    _assert_closed(wn.h, cs)


def test_concept_file_errors(wn, tmp_path):
    junk = tmp_path / "junk.txt"
    junk.write_text("# nothing\nxqzv\n\n", encoding="utf-8")
    with pytest.raises(ConceptError, match="names no WordNet noun"):
        wn.h.concept_set_from_file(junk)
    with pytest.raises(ConceptError, match="Cannot read"):
        wn.h.concept_set_from_file(tmp_path / "missing.txt")
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\xff\xfe\x00dog")
    with pytest.raises(ConceptError, match="UTF-8"):
        wn.h.concept_set_from_file(binary)


def test_second_start_reads_only_the_cache(wn, monkeypatch):
    wn.h.default_concept_set()  # make sure the default set is on disk too

    def no_wordnet(*a, **k):
        raise AssertionError("a cached start must not look for WordNet")

    monkeypatch.setattr(provider, "find_wordnet", no_wordnet)
    h2 = Hierarchy()
    assert h2.loaded_from_cache
    assert h2.default_concept_set().synsets == wn.h.default_concept_set().synsets
    assert h2.details("dog.n.01") == wn.h.details("dog.n.01")

    # A fresh process neither imports nltk nor parses WordNet.
    code = (
        "import json, sys, time\n"
        "t = time.perf_counter()\n"
        "from eclip_desktop.core.wordnet.hierarchy import Hierarchy\n"
        "h = Hierarchy(); d = h.default_concept_set(); a = h.all_nouns_concept_set()\n"
        "r = h.search('dog'); i = h.details('dog.n.01')\n"
        "print(json.dumps({'cached': h.loaded_from_cache, 'nltk': 'nltk' in sys.modules,\n"
        "  'default': len(d), 'all': len(a), 'first': r[0], 'paths': len(i.hypernym_paths),\n"
        "  'seconds': time.perf_counter() - t}))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT_DIR))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=str(ROOT_DIR), timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["cached"] is True and out["nltk"] is False
    assert out["default"] == len(wn.h.default_concept_set()) and out["all"] == 82115
    assert out["first"] == "dog.n.01" and out["paths"] >= 2
    print(f"second start in a new process: {out['seconds']:.2f} s")


def test_stale_or_corrupt_cache_is_rebuilt(wn, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / f"nouns-v{hmod.CACHE_FORMAT}.npz").write_bytes(b"not a zip")
    h = Hierarchy(cache_dir=cache, wordnet_root=wn.location.root)
    assert not h.loaded_from_cache and len(h) == 82115
    assert Hierarchy(cache_dir=cache).loaded_from_cache
    # A cache cut short (disk full, killed writer) is also rebuilt.
    good = h.nouns_cache_path.read_bytes()
    h.nouns_cache_path.write_bytes(good[: len(good) // 2])
    assert not Hierarchy(cache_dir=cache, wordnet_root=wn.location.root).loaded_from_cache
    h.default_set_cache_path.write_bytes(b"\x1f\x8b garbage")
    assert len(h.default_concept_set()) == len(wn.h.default_concept_set())
