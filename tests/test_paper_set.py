"""Issue 17: the ConVis paper's concept set, built by the authors' rule (core/convis/paper_set.py)."""
import gzip
import json
import os
from pathlib import Path

import pytest

from eclip_desktop.cli import main
from eclip_desktop.core.convis import paper_set
from eclip_desktop.core.convis.sets import concept_set_by_name
from eclip_desktop.core.errors import ConceptError
from eclip_desktop.core.wordnet import provider

SYSTEM = Path("/usr/share/wordnet")
# The authors' word list is not shipped (MIT, their repository); point this at a copy to run the
# full-size check. Read at import: the fixtures below clear the variable for the other tests.
FULL_WORDS = os.environ.get(paper_set.WORDS_ENV)
pytestmark = pytest.mark.skipif(not (SYSTEM / "data.noun").is_file() or not (SYSTEM / "index.sense").is_file(),
                                reason="needs Debian's wordnet-base and wordnet-sense-index")


@pytest.fixture
def hier(wn_env, monkeypatch, tmp_path):
    base, h = wn_env
    monkeypatch.setenv("ECLIP_DESKTOP_DATA", str(base / "data"))
    monkeypatch.setenv("ECLIP_DESKTOP_CACHE", str(base / "cache"))
    monkeypatch.delenv(paper_set.WORDS_ENV, raising=False)
    monkeypatch.setattr(h, "cache_dir", tmp_path / "cache")  # each test derives its own set
    return h


@pytest.fixture(scope="module")
def wn(wn_env):
    return provider.ensure_wordnet(system_dirs=[SYSTEM], allow_download=False)


def test_rule_takes_every_sense_and_only_hypernym_paths(wn, hier):
    names, unknown = paper_set.reference_rule(wn, ["dog", "antennae", "mercury", "aftershave", "ATM"])
    assert unknown == ["aftershave"]  # not a WordNet noun: the authors' code drops it too
    members = set(names)
    # Every noun sense, not only the first: dog's "frump" and "andiron" senses come with it.
    assert {"dog.n.01", "frump.n.01", "andiron.n.01", "canine.n.02", "entity.n.01"} <= members
    assert "antenna.n.01" in members  # nltk's morphology: antennae -> antenna
    assert "cash_machine.n.01" in members  # nltk lower-cases: ATM
    # hypernyms() only: an instance synset (Mercury the planet, the god) has no path and stays out.
    for sense in wn.synsets("mercury", pos=wn.NOUN):
        assert (sense.name() in members) == bool(sense.hypernyms()), sense.name()
    assert "mercury.n.01" in members and "mercury.n.03" not in members
    # The project's own closure of these names adds nothing: T is closed under the parents.
    assert list(hier.concept_set_from_synsets("paper", names).synsets) == names


def test_words_file_is_checked(hier, tmp_path):
    fake = tmp_path / "physical_objects.txt"
    fake.write_text("dog\ncat\n", encoding="utf-8")
    with pytest.raises(ConceptError, match="SHA-256 differs"):
        paper_set.paper_concept_set(hier, words_file=fake)


def test_missing_words_offline_is_one_clear_error(hier, monkeypatch):
    monkeypatch.setattr(provider, "_online", lambda *a, **k: False)
    with pytest.raises(ConceptError) as err:
        concept_set_by_name(hier, "paper")
    message = str(err.value)
    assert "\n" not in message and paper_set.WORDS_URL in message and "physical_objects.txt" in message


def test_derived_set_is_cached_and_reused(hier, monkeypatch, wn):
    # A cached set under the current rule is read back without WordNet, nltk or the words file.
    path = paper_set.cache_path(hier)
    path.parent.mkdir(parents=True, exist_ok=True)
    names, _ = paper_set.reference_rule(wn, ["dog"])
    path.write_bytes(gzip.compress(json.dumps({"rule": paper_set.RULE, "synsets": names}).encode()))
    monkeypatch.setattr(provider, "ensure_wordnet", lambda *a, **k: pytest.fail("WordNet was loaded"))
    cs = concept_set_by_name(hier, "paper")
    assert cs.name == "paper" and list(cs.synsets) == names


@pytest.mark.skipif(not FULL_WORDS, reason=f"set {paper_set.WORDS_ENV} to the authors' "
                    "physical_objects.txt (not shipped) to check the full set")
def test_full_paper_set_has_7080_synsets(hier, monkeypatch):
    monkeypatch.setenv(paper_set.WORDS_ENV, FULL_WORDS)
    cs = concept_set_by_name(hier, "paper")
    assert len(cs) == paper_set.N_SYNSETS == 7080
    assert {"entity.n.01", "dog.n.01", "frump.n.01", "zucchini.n.02", "aardvark.n.01", "bird.n.01"} <= set(cs)
    assert "mercury.n.03" not in cs and "giraffe.n.01" in cs
    assert len(set(cs) & set(hier.default_concept_set())) == 4881
    stored = json.loads(gzip.decompress(paper_set.cache_path(hier).read_bytes()))
    assert stored["n_words"] == 1980 and len(stored["unknown_words"]) == 53


@pytest.mark.parametrize("argv", [
    ["wordnet", "dog", "--concept-set", "bogus"],
    ["concepts", "IMG", "--synset", "dog", "--concept-set", "bogus", "--out", "OUT"],
    ["export", "--images", "IMG", "--synset", "dog", "--concept-set", "bogus", "--out", "OUT"],
    ["eval", "--dataset", "shapes:2", "--method", "convis", "--concept-set", "bogus"],
])
def test_unknown_concept_set_is_one_line_exit_1(hier, tmp_path, capsys, argv):
    from conftest import write_image
    img = write_image(tmp_path / "photo.png", w=64, h=48)
    argv = [img if a == "IMG" else str(tmp_path / "out") if a == "OUT" else a for a in argv]
    rc = main(argv + ["--model", "eclip-tiny-vit", "--pretrained", "random", "--device", "cpu"]
              if argv[0] != "wordnet" else argv)
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1, err
    assert "bogus" in err and "paper" in err
    assert not (tmp_path / "out").exists()  # nothing written, not even an empty folder


def test_download_is_checked_and_written_once(hier, monkeypatch, tmp_path):
    import hashlib
    import io
    body = b"dog\ncat\n"
    calls = []

    def fake_urlopen(url, timeout):
        calls.append(url)
        return io.BytesIO(body)

    monkeypatch.setattr(provider, "_online", lambda *a, **k: True)
    monkeypatch.setattr(paper_set.urllib.request, "urlopen", fake_urlopen)
    target = tmp_path / "words.txt"
    monkeypatch.setenv(paper_set.WORDS_ENV, str(target))
    with pytest.raises(ConceptError, match="does not match the pinned one"):
        paper_set.read_words()  # the real pin: these bytes are not the authors' file
    assert not target.exists() and calls == [paper_set.WORDS_URL]
    monkeypatch.setattr(paper_set, "WORDS_SHA256", hashlib.sha256(body).hexdigest())
    assert paper_set.read_words() == ["dog", "cat"] and target.read_bytes() == body
    assert paper_set.read_words() == ["dog", "cat"] and len(calls) == 2  # the second read is local
