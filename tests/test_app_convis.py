"""ConVis in the window (offscreen): a WordNet synset's concept map in the map pane, the dock's
"concepts in this image" list, errors, cancel. Tiny random model and the small Shapes set."""
import time

import numpy as np
import torch

# The leak check (autouse), the window factory and the session WordNet cache are shared.
from conftest import write_image
from test_app import (  # noqa: F401
    TINY,
    make_window,
    no_dangling_threads_or_timers,
    settings,
    wait_for_map,
)
from test_app_wordnet import wordnet_dirs, wordnet_env  # noqa: F401

from eclip_desktop.core.convis.engine import ConVis

WAIT_MS = 60_000


def idle(qtbot, w):
    qtbot.waitUntil(lambda: not w.compute.is_busy() and not w.wordnet_dock.is_busy()
                    and not w.map_controller.waiting(), timeout=WAIT_MS)


def window_with_shapes(qtbot, make_window, tmp_path, w_px=96, h_px=72, seed=0):
    # Random weights: unseeded, polygon.n.01's subtree (half the set) can rank first in every
    # window, which is a correctly constant map but not one a test can check.
    torch.manual_seed(seed)
    photo = write_image(tmp_path / "photo.png", w_px, h_px)
    w = make_window(images=[photo])
    wait_for_map(qtbot, w)
    dock = w.wordnet_dock
    dock.raise_()
    qtbot.waitUntil(lambda: dock.info is not None and dock.info.name == "entity.n.01", timeout=WAIT_MS)
    dock.use_concept_set("shapes")
    qtbot.waitUntil(lambda: dock.key == "shapes" and not dock.is_busy(), timeout=WAIT_MS)
    return w, dock


def select(qtbot, w, name):
    w.wordnet_dock.navigate(name)
    qtbot.waitUntil(lambda: w.convis.result is not None and w.convis.result.synset == name
                    and not w.compute.is_busy(), timeout=WAIT_MS)


def the_convis(w) -> ConVis:
    (cv,) = w.compute.state.convis.values()
    return cv


def test_synset_map_second_synset_concepts_and_back_to_itsm(qtbot, make_window, tmp_path, wordnet_env):
    w, dock = window_with_shapes(qtbot, make_window, tmp_path)
    select(qtbot, w, "polygon.n.01")
    side = w.views.side
    values = side.map.values
    assert values is not None and values.shape == (72, 96)
    assert float(np.ptp(values)) > 0.1, "the ConVis map is constant"
    assert side.right_title.text().startswith("ConVis \u00b7 polygon.n.01: ")
    assert "polygon.n.01" in dock.convis_note.text()

    # The concepts of this image: filled once, at most 15, each naming a synset of the set.
    assert 0 < dock.image_concepts.count() <= 15
    names = [dock.image_concepts.item(i).data(256) for i in range(dock.image_concepts.count())]
    cv = the_convis(w)
    assert all(n in cv.concept_set for n in names)

    # A second synset on the same image reuses the rank matrix: no window is encoded again.
    calls = cv.window_encode_calls
    other = next(n for n in names if n != "polygon.n.01")
    dock.image_concepts.itemClicked.emit(dock.image_concepts.item(names.index(other)))
    qtbot.waitUntil(lambda: w.convis.result.synset == other and not w.compute.is_busy(), timeout=WAIT_MS)
    assert cv.window_encode_calls == calls
    assert side.right_title.text().startswith(f"ConVis \u00b7 {other}: ")
    assert dock.image_concepts.count() == len(names)

    # Picking the method (even the one already selected) brings the prompt map back.
    itsm = w.maps[(w.analysis.method, w.analysis.pooling)].heatmaps[0]
    w.controls.method.activated.emit(w.controls.method.currentIndex())
    assert not w.convis.on
    assert not side.right_title.text().startswith("ConVis")
    assert side.map.values is itsm.values
    idle(qtbot, w)


def test_synset_outside_the_set_gives_a_message(qtbot, make_window, tmp_path, wordnet_env):
    w, dock = window_with_shapes(qtbot, make_window, tmp_path)
    # Through the dock: it refuses the synset itself, so no ConVis job is sent.
    dock.navigate("dog.n.01")
    qtbot.waitUntil(lambda: dock.message.isVisible(), timeout=WAIT_MS)
    assert "not in the concept set" in dock.message.text()
    assert not w.convis.on
    # Asked directly (as a stale selection would be): a one-line message, and the window lives on.
    w.convis.show_convis("dog.n.01")
    qtbot.waitUntil(lambda: "not in the concept set" in w.banner.text(), timeout=WAIT_MS)
    assert "\n" not in w.wordnet_dock.convis_note.text()
    idle(qtbot, w)
    select(qtbot, w, "polygon.n.01")
    assert w.views.side.map.values.shape == (72, 96)


def test_cancel_during_the_rank_matrix(qtbot, make_window, tmp_path, wordnet_env, monkeypatch):
    slow = ConVis._encode_crops

    def encode(self, crops):  # slow enough to press Cancel between two batches
        time.sleep(0.15)
        return slow(self, crops)

    monkeypatch.setattr(ConVis, "_encode_crops", encode)
    w, dock = window_with_shapes(qtbot, make_window, tmp_path)
    texts = []
    w.compute.progressed.connect(lambda kind, text: texts.append(text))
    dock.navigate("polygon.n.01")
    qtbot.waitUntil(lambda: any("windows" in t for t in texts), timeout=WAIT_MS)
    w.act_cancel.trigger()
    qtbot.waitUntil(lambda: not w.compute.is_busy(), timeout=5_000)
    cv = the_convis(w)
    assert w.convis.result is None
    assert "cancelled" in dock.convis_note.text()
    assert cv.cached_ranks(w.compute.state.image(w.image_list.current_path())[0]) is None
    assert w.views.side.map.values is None  # the pane says so instead of showing a map
    idle(qtbot, w)


def test_convis_map_copies_exports_and_survives_a_session(qtbot, make_window, tmp_path, wordnet_env):
    import json

    from PySide6.QtWidgets import QApplication
    w, dock = window_with_shapes(qtbot, make_window, tmp_path)
    select(qtbot, w, "polygon.n.01")
    QApplication.clipboard().clear()
    w.act_copy.trigger()
    qtbot.waitUntil(lambda: not QApplication.clipboard().image().isNull(), timeout=WAIT_MS)
    assert QApplication.clipboard().image().width() > 96  # the map plus title and colorbar

    out = tmp_path / "export"
    w.exports.export_map(str(out))
    qtbot.waitUntil(lambda: sorted(p.name for p in out.glob("[!.]*")) == [
        "photo__convis__polygon.n.01.json", "photo__convis__polygon.n.01.npy", "photo__convis__polygon.n.01.png"],
        timeout=WAIT_MS)
    saved = np.load(out / "photo__convis__polygon.n.01.npy")
    assert np.array_equal(saved, w.convis.result.values.astype(np.float32))
    meta = json.loads((out / "photo__convis__polygon.n.01.json").read_text())
    assert meta["method"] == "convis" and meta["synset"] == "polygon.n.01"
    assert meta["concept_set"]["key"] == "shapes" and meta["gloss"] == w.convis.result.gloss
    listed = dock.image_concepts.count()
    assert listed > 0 and len(meta["top_concepts"]) == listed
    # A second synset of the same image: its job lists no concepts again (the dock keeps the first
    # listing), and its export still carries what the dock shows.
    select(qtbot, w, "ellipse.n.01")
    assert w.convis.result.concepts is None and dock.image_concepts.count() == listed
    out2 = tmp_path / "export2"
    w.exports.export_map(str(out2))
    qtbot.waitUntil(lambda: (out2 / "photo__convis__ellipse.n.01.json").exists(), timeout=WAIT_MS)
    second = json.loads((out2 / "photo__convis__ellipse.n.01.json").read_text())
    assert [c["synset"] for c in second["top_concepts"]] == [c["synset"] for c in meta["top_concepts"]]

    session = tmp_path / "s.eclip.json"
    assert w.sessions.save_session(str(session))
    doc = json.loads(session.read_text())
    assert (doc["synset"], doc["convis"], doc["concept_set"]) == ("ellipse.n.01", True, "shapes")
    w.convis.leave_convis()
    dock.use_concept_set("default")
    qtbot.waitUntil(lambda: dock.key == "default" and not dock.is_busy(), timeout=WAIT_MS)
    assert w.sessions.open_session(str(session))
    qtbot.waitUntil(lambda: w.views.side.right_title.text().startswith("ConVis \u00b7 ellipse.n.01: ")
                    and not w.compute.is_busy() and w.image_view is not None, timeout=WAIT_MS)
    assert w.convis.on and w.convis.selected_synset == "ellipse.n.01" and dock.key == "shapes"
    idle(qtbot, w)


def test_convis_out_of_memory_falls_back_to_the_cpu(tmp_path, wordnet_env, tiny_handles, monkeypatch):
    """The ConVis job, run without a window: a GPU out-of-memory error reruns it on the CPU."""
    from eclip_desktop.viewer.jobs import compute
    from eclip_desktop.viewer.jobs.convis import ConVisRequest, convis_job
    from eclip_desktop.viewer.jobs.wordnet import WordNetService
    from eclip_desktop.viewer.state import ModelChoice

    class Ctx:
        def __init__(self, state):
            self.state = state

        def check(self):
            pass

        def progress(self, text):
            pass

        def partial(self, obj):
            pass

    state = compute.WorkerState()
    gpu = ModelChoice("eclip-tiny-vit", "random", "cuda", "fp16")
    cpu = gpu.on_device("cpu")
    from eclip_desktop.core.explain.engine import Engine
    state.engines[cpu.spec("native")] = Engine(tiny_handles["eclip-tiny-vit"])
    real_engine = state.engine

    def engine(spec, ctx=None):
        if spec.device == "cuda":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 3.00 GiB")
        return real_engine(spec, ctx)

    monkeypatch.setattr(state, "engine", engine)
    photo = write_image(tmp_path / "photo.png", 96, 72)
    result = convis_job(ConVisRequest(photo, gpu, "native", "polygon.n.01", "shapes"), WordNetService())(Ctx(state))
    assert result.request.model == cpu and "CPU" in result.notices[0]
    assert result.values.shape == (72, 96)


def test_convis_shows_a_coarse_preview_before_the_final_map(qtbot, make_window, tmp_path, wordnet_env):
    w, dock = window_with_shapes(qtbot, make_window, tmp_path)
    seen = []

    def on_partial(kind, obj):
        if kind == "convis":  # the window has handled it by now: record what the user sees
            seen.append((obj.windows, obj.final, dock.convis_note.text(), w.views.side.caption.text()))

    w.compute.partial.connect(on_partial)
    select(qtbot, w, "polygon.n.01")
    assert seen, "no coarse preview arrived"
    windows, final, note, caption = seen[0]
    assert not final and "coarse preview" in note and "refining" in caption
    assert w.convis.result.final and windows < w.convis.result.windows
    assert "coarse" not in w.views.side.caption.text()
    idle(qtbot, w)
