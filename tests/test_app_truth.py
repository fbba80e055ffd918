"""No stale state (issue 14): readouts, captions and concept lists follow what is on screen.
ConVis support, Cancel after a coarse preview, a new concept set; the hover readout after a map change."""
import time

from PySide6.QtCore import QPointF
from test_app import (  # noqa: F401
    make_window,
    no_dangling_threads_or_timers,
    settings,
    wait_for_map,
)
from test_app_convis import WAIT_MS, idle, select, window_with_shapes
from test_app_wordnet import wordnet_dirs, wordnet_env  # noqa: F401

from eclip_desktop.core.convis.engine import ConVis


def test_convis_says_how_strongly_the_image_supports_the_concept(qtbot, make_window, tmp_path, wordnet_env):
    from dataclasses import replace
    w, dock = window_with_shapes(qtbot, make_window, tmp_path)
    select(qtbot, w, "polygon.n.01")
    r = w.convis.result
    assert r.set_size > 1 and 0 <= r.best_rank < r.set_size
    assert r.support is not None and 0 < r.support.p_value <= 1 and r.support.synset == "polygon.n.01"
    caption = w.views.side.caption.text()
    # polygon.n.01 holds half of the 20-concept shapes set: the caption says it was not tested, and why
    assert f"of {r.set_size:,}" in caption and r.support.verdict() in caption and "not tested" in caption
    assert "support" in w.guide.text().lower() and "Semantic shift" not in w.guide.text()
    # the verdict follows the test: supported, supported through a hyponym, or no evidence (not "absent")
    yes = replace(r, support=replace(r.support, supported=True, through=None, reason=""))
    through = replace(r, support=replace(r.support, supported=True, through="triangle.n.01", reason=""))
    no = replace(r, support=replace(r.support, supported=False, through=None, reason=""))
    assert yes.support_text().startswith("supported (p")
    assert "supported through triangle.n.01" in through.support_text()
    assert "no evidence beyond chance" in no.support_text() and "absent" not in no.support_text().replace(
        "evidence of absence", "")


def test_cancel_after_the_coarse_preview_stops_saying_refining(qtbot, make_window, tmp_path, wordnet_env,
                                                               monkeypatch):
    slow = ConVis._encode_crops

    def encode(self, crops):  # slow enough to press Cancel after the preview
        time.sleep(0.15)
        return slow(self, crops)

    monkeypatch.setattr(ConVis, "_encode_crops", encode)
    w, dock = window_with_shapes(qtbot, make_window, tmp_path)
    dock.navigate("polygon.n.01")
    qtbot.waitUntil(lambda: w.convis.result is not None and not w.convis.result.final, timeout=WAIT_MS)
    assert "refining" in w.views.side.caption.text()
    w.act_cancel.trigger()
    qtbot.waitUntil(lambda: not w.compute.is_busy(), timeout=5_000)
    assert "refining" not in w.views.side.caption.text() and "cancelled" in w.views.side.caption.text()
    assert "refining" not in dock.convis_note.text()
    # F5 finishes it.
    monkeypatch.setattr(ConVis, "_encode_crops", slow)
    w.act_recompute.trigger()
    qtbot.waitUntil(lambda: w.convis.result.final and not w.compute.is_busy(), timeout=WAIT_MS)
    assert "cancelled" not in w.views.side.caption.text()
    idle(qtbot, w)


def test_a_new_concept_set_recomputes_the_same_synset(qtbot, make_window, tmp_path, wordnet_env):
    w, dock = window_with_shapes(qtbot, make_window, tmp_path)
    select(qtbot, w, "polygon.n.01")
    assert w.convis.result.set_name == "Shapes World classes" or "shapes" in w.convis.result.request.set_key
    assert dock.image_concepts.count() > 0
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("polygon\ncircle\nsquare\ntriangle\n")
    dock.load_vocabulary(str(vocab))
    # The old set's list goes at once; the same synset comes back computed against the new set.
    qtbot.waitUntil(lambda: w.convis.result is not None and w.convis.result.request.set_key == dock.key
                    and w.convis.result.final and not w.compute.is_busy() and not dock.is_busy(), timeout=WAIT_MS)
    assert "vocab" in w.convis.result.set_name and "vocab" in w.views.side.caption.text()
    assert w.convis.result.set_size == 4 or w.convis.result.set_size < 20
    qtbot.waitUntil(lambda: dock.image_concepts.count() > 0, timeout=WAIT_MS)
    names = {dock.image_concepts.item(i).data(0x0100) for i in range(dock.image_concepts.count())}
    assert len(names) <= w.convis.result.set_size
    idle(qtbot, w)


def test_hover_readout_follows_the_map(qtbot, make_window):
    w = make_window()
    wait_for_map(qtbot, w)
    side = w.views.side
    canvas = side.map
    texts = []
    w.views.cursor_text.connect(texts.append)
    centre = canvas.vb.mapViewToScene(QPointF(canvas.size[0] / 2, canvas.size[1] / 2))
    side._mouse_moved(centre)
    first = w.status.cursor_label.text()
    assert "map" in first and "raw" in first
    # The same pixel is marked in the other pane.
    assert side.image.cross.isVisible() and not canvas.cross.isVisible()
    xs, ys = side.image.cross.getData()
    assert abs(xs[0] - canvas.size[0] / 2) < 1 and abs(ys[0] - canvas.size[1] / 2) < 1
    w.controls.shown.setCurrentIndex(1)  # another prompt: another map under the same cursor
    qtbot.waitUntil(lambda: w.views.side.right_title.full_text().count(w.analysis.texts[1][:10]) > 0,
                    timeout=WAIT_MS)
    hm = w.maps[(w.analysis.method, w.analysis.pooling)].heatmaps[1]
    x, y = (int(v) for v in first.split("  ")[0].replace("x ", "").replace("y ", "").split(", "))
    assert f"map {float(hm.values[y, x]):.3f}" in w.status.cursor_label.text()
