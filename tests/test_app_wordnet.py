"""The WordNet dock in the window (offscreen): search, details, lazy tree, history, prompts, errors."""
import pytest
from PySide6.QtCore import Qt

# The leak check (autouse) and the window factory are shared with the window tests.
from test_app import make_window, no_dangling_threads_or_timers, settings  # noqa: F401

from eclip_desktop.core.errors import WordNetError
from eclip_desktop.core.wordnet import provider
from eclip_desktop.core.wordnet.hierarchy import Hierarchy

WAIT_MS = 20_000


@pytest.fixture(scope="session")
def wordnet_dirs(tmp_path_factory):
    """Build the WordNet cache once per session (a few seconds), outside the user's own dirs."""
    base = tmp_path_factory.mktemp("wordnet-env")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ECLIP_DESKTOP_CACHE", str(base / "cache"))
        mp.setenv("ECLIP_DESKTOP_DATA", str(base / "data"))
        try:
            Hierarchy().default_concept_set()
        except WordNetError as exc:
            pytest.skip(f"WordNet is not installed here: {exc}")
    return base


@pytest.fixture
def wordnet_env(wordnet_dirs, monkeypatch):
    monkeypatch.setenv("ECLIP_DESKTOP_CACHE", str(wordnet_dirs / "cache"))
    monkeypatch.setenv("ECLIP_DESKTOP_DATA", str(wordnet_dirs / "data"))


def open_dock(qtbot, make_window):
    w = make_window(model=None, open_sample=False)
    dock = w.wordnet_dock
    assert dock.runner is None  # hidden behind Controls: nothing loaded yet
    dock.raise_()
    qtbot.waitUntil(lambda: dock.info is not None and dock.info.name == "entity.n.01", timeout=WAIT_MS)
    return w, dock


def go(qtbot, dock, name):
    dock.navigate(name)
    qtbot.waitUntil(lambda: not dock.is_busy() and dock.info.name == name, timeout=WAIT_MS)


def test_search_select_details_and_breadcrumbs(qtbot, make_window, wordnet_env):
    w, dock = open_dock(qtbot, make_window)
    qtbot.keyClicks(dock.search, "dog")
    qtbot.waitUntil(lambda: dock.results.count() > 0 and not dock.is_busy(), timeout=WAIT_MS)
    first = dock.results.item(0)
    assert first.data(Qt.UserRole) == "dog.n.01"
    assert "genus Canis" in first.text()
    dock.results.itemClicked.emit(first)
    qtbot.waitUntil(lambda: dock.info.name == "dog.n.01", timeout=WAIT_MS)
    assert "genus Canis" in dock.details.body.text()
    rows = dock.details.crumb_rows
    assert len(rows) >= 2 and "2 paths" in dock.details.paths_title.text()
    assert all("entity" in r.text() for r in rows)
    assert w.convis.selected_synset == "dog.n.01"
    assert dock.tree.topLevelItem(0).data(0, Qt.UserRole) == "dog.n.01"

    parent = dock.info.hypernym_paths[0][-2]
    assert f"synset:{parent}" in rows[0].text()
    rows[0].linkActivated.emit(f"synset:{parent}")  # what a click on the crumb does
    qtbot.waitUntil(lambda: dock.info.name == parent, timeout=WAIT_MS)
    assert "ConVis" in dock.convis_note.text() and "arrive" not in dock.convis_note.text()


def test_tree_loads_hyponyms_only_when_expanded(qtbot, make_window, wordnet_env, monkeypatch):
    calls = []
    real = Hierarchy.hyponyms
    monkeypatch.setattr(Hierarchy, "hyponyms", lambda self, name, cs=None: calls.append(name) or real(self, name, cs))
    w, dock = open_dock(qtbot, make_window)
    go(qtbot, dock, "dog.n.01")
    root = dock.tree.topLevelItem(0)
    qtbot.waitUntil(lambda: root.childCount() > 0 and root.child(0).data(0, Qt.UserRole) is not None, timeout=WAIT_MS)
    assert calls.count("dog.n.01") == 1
    n_before = len(calls)
    kids = [root.child(i) for i in range(root.childCount())]
    inner = next(k for k in kids if int(k.text(1)) > 1)
    assert inner.childCount() == 1 and not inner.child(0).data(0, Qt.UserRole)  # placeholder only
    assert inner.data(0, Qt.UserRole) not in calls
    inner.setExpanded(True)
    qtbot.waitUntil(lambda: inner.child(0).data(0, Qt.UserRole) is not None, timeout=WAIT_MS)
    assert len(calls) == n_before + 1 and calls[-1] == inner.data(0, Qt.UserRole)
    inner.setExpanded(False)
    inner.setExpanded(True)
    qtbot.wait(50)
    assert len(calls) == n_before + 1  # fetched once


def test_back_and_forward(qtbot, make_window, wordnet_env):
    w, dock = open_dock(qtbot, make_window)
    go(qtbot, dock, "dog.n.01")
    go(qtbot, dock, "cat.n.01")
    assert dock.history.names == ["entity.n.01", "dog.n.01", "cat.n.01"]
    dock.search.setFocus()
    qtbot.keyClick(dock.search, Qt.Key_Left, Qt.AltModifier)
    qtbot.waitUntil(lambda: dock.info.name == "dog.n.01", timeout=WAIT_MS)
    dock.back_button.click()
    qtbot.waitUntil(lambda: dock.info.name == "entity.n.01", timeout=WAIT_MS)
    assert not dock.act_back.isEnabled()
    dock.forward_button.click()
    qtbot.waitUntil(lambda: dock.info.name == "dog.n.01", timeout=WAIT_MS)
    assert dock.history.names == ["entity.n.01", "dog.n.01", "cat.n.01"] and dock.history.pos == 1
    go(qtbot, dock, "hat.n.01")  # a new step drops the forward branch
    assert dock.history.names == ["entity.n.01", "dog.n.01", "hat.n.01"]


def test_use_as_prompt_adds_the_lemma(qtbot, make_window, wordnet_env):
    w, dock = open_dock(qtbot, make_window)
    go(qtbot, dock, "dog.n.01")
    dock.use_prompt.click()
    assert "a photo of a dog." in w.controls.texts()
    assert w.controls.shown.currentText().endswith("a photo of a dog.")
    dock.use_prompt.click()
    assert w.controls.texts().count("a photo of a dog.") == 1


def test_unknown_name_suggests(qtbot, make_window, wordnet_env):
    w, dock = open_dock(qtbot, make_window)
    dock.search.setText("dgo")
    qtbot.keyClick(dock.search, Qt.Key_Return)
    qtbot.waitUntil(lambda: dock.message.isVisible() and not dock.is_busy(), timeout=WAIT_MS)
    text = dock.message.text()
    assert "not a WordNet noun" in text and "synset:dog" in text
    assert dock.info.name == "entity.n.01"
    dock.message.linkActivated.emit("synset:dog")
    qtbot.waitUntil(lambda: dock.info.name == "dog.n.01", timeout=WAIT_MS)
    assert not dock.message.isVisible()


def test_vocabulary_file_reports_rejected_lines(qtbot, make_window, wordnet_env, tmp_path):
    vocab = tmp_path / "pets.txt"
    vocab.write_text("dog\ncat\nxqzvw\n", encoding="utf-8")
    w, dock = open_dock(qtbot, make_window)
    dock.load_vocabulary(str(vocab))
    qtbot.waitUntil(lambda: dock.concepts.currentText() == "pets (file)" and not dock.is_busy(), timeout=WAIT_MS)
    assert "line 3: xqzvw" in dock.message.text()
    qtbot.keyClicks(dock.search, "hat")
    qtbot.waitUntil(lambda: dock.results.count() > 0 and not dock.is_busy(), timeout=WAIT_MS)
    assert dock.results.item(0).text() == "no match in this concept set"


def test_missing_wordnet_is_a_message(qtbot, make_window, tmp_path, monkeypatch):
    monkeypatch.setenv("ECLIP_DESKTOP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ECLIP_DESKTOP_DATA", str(tmp_path / "data"))

    def missing(*a, **k):
        raise WordNetError("WordNet 3.0 was not found; install it with: sudo apt install wordnet-base")

    monkeypatch.setattr(provider, "find_wordnet", missing)
    w = make_window(model=None, open_sample=False)
    dock = w.wordnet_dock
    dock.raise_()
    qtbot.waitUntil(lambda: dock.message.isVisible() and not dock.is_busy(), timeout=WAIT_MS)
    assert "WordNet 3.0 was not found" in dock.message.text()
    assert not dock.search.isEnabled()
    dock.navigate("dog")  # ignored, no new job
    assert not dock.is_busy()
    # The status line is transient (other jobs write it, idle clears it); what must hold once every
    # job is done: the window is up and nothing still claims WordNet is loading.
    qtbot.waitUntil(lambda: not w.compute.is_busy() and not w.io.is_busy() and not dock.is_busy(), timeout=WAIT_MS)
    line = w.status.job_label.full_text()
    assert w.isVisible() and "loading" not in line and "listing" not in line  # no job's progress left over
    assert "WordNet 3.0 was not found" in dock.message.text()


def test_paper_set_in_the_chooser_offline_is_a_message(qtbot, make_window, wordnet_env, tmp_path, monkeypatch):
    # Issue 17: the ConVis paper's set is offered; without the authors' word list and offline, the
    # dock says where to get it and keeps the set it had.
    from eclip_desktop.core.convis import paper_set
    monkeypatch.setenv(paper_set.WORDS_ENV, str(tmp_path / "missing.txt"))
    monkeypatch.setattr(provider, "_online", lambda *a, **k: False)
    w, dock = open_dock(qtbot, make_window)
    assert dock.concepts.findData("paper") >= 0
    dock.use_concept_set("paper")
    qtbot.waitUntil(lambda: dock.message.isVisible() and not dock.is_busy(), timeout=WAIT_MS)
    assert "physical_objects.txt" in dock.message.text() and "missing.txt" in dock.message.text()
    assert dock.key == "default" and dock.concepts.currentData() == "default"
    assert dock.search.isEnabled()  # WordNet itself works: only this set failed
