"""Two models side by side (issue 14) and the grids at 1000x700. Offscreen, tiny random models."""
import json

import numpy as np
from PySide6.QtCore import Qt
from test_app import (  # noqa: F401
    WAIT_MS,
    idle,
    make_window,
    no_dangling_threads_or_timers,
    settings,
    wait_for_map,
)

from eclip_desktop.viewer.state import ModelChoice

SECOND = ModelChoice("eclip-tiny-rn", "random", "cpu")


def compare_ready(qtbot, w):
    qtbot.waitUntil(lambda: w.comparison.model == SECOND and all(t.preview is not None for t in w.views.grid.contents())
                    and not w.compute.is_busy() and not w.map_controller.waiting(), timeout=WAIT_MS)


def second_engine(w, pooling="native"):
    return w.compute.state.engines[SECOND.spec(pooling)]


def test_two_models_side_by_side_named_and_cached(qtbot, make_window):
    w = make_window()
    wait_for_map(qtbot, w)
    # Found where the other grids are: the layouts toolbar, the View menu and the shortcut sheet.
    assert dict(w.help.shortcut_rows())["Model comparison"] == "Ctrl+5"
    view = next(m for m in w.menuBar().actions() if m.text() == "&View").menu()
    assert {w.layout_actions["compare"], w.act_compare, w.act_shared_scale} <= set(view.actions())
    assert not w.controls.compare_box.isVisibleTo(w.controls), "the second picker only with its layout"
    w.layout_actions["compare"].trigger()
    assert w.layout_name == "compare" and w.controls.compare_box.isVisibleTo(w.controls)
    tiles = w.views.grid.contents()
    assert len(tiles) == 2 and tiles[1].preview is None and "Compare with" in tiles[1].note
    # The second picker offers what the first one does (the model in use aside).
    first_picker, second_picker = w.controls.picker, w.controls.compare_picker
    qtbot.waitUntil(lambda: second_picker.catalogue is not None, timeout=WAIT_MS)
    assert set(first_picker.entries()) - {"eclip-tiny-vit"} <= set(second_picker.entries())
    assert "eclip-shapes-vit-ft" in second_picker.entries() and second_picker.architecture() == ""
    w.comparison.request_model(SECOND)
    compare_ready(qtbot, w)
    tiles = w.views.grid.contents()
    assert [t.title for t in tiles] == ["eclip-tiny-vit (random) \u00b7 native", "eclip-tiny-rn (random) \u00b7 native"]
    assert all("colours: own range" in t.caption for t in tiles)
    assert "own range" in w.views.grid.header.text()
    assert not np.array_equal(tiles[0].full, tiles[1].full), "the second tile is another model's map"
    first, second = w.models.current_engine(), second_engine(w)
    assert first.image_encoder_calls == 1 and second.image_encoder_calls == 1

    # A new pooling: both single models read it out from their cached features; no job at all.
    jobs = w.compute.submitted
    w.activateWindow()
    qtbot.keyClick(w, Qt.Key_4)
    idle(qtbot, w)
    assert [t.title.split(" \u00b7 ")[1] for t in w.views.grid.contents()] == ["masked max", "masked max"]
    assert w.compute.submitted == jobs
    # A new prompt: text only; the image features of both models are reused.
    w.controls.prompts.setPlainText("a photo of a square.")
    qtbot.waitUntil(lambda: _shows_prompt(w, "a photo of a square."), timeout=WAIT_MS)
    compare_ready(qtbot, w)
    assert second_engine(w) is second and w.models.current_engine() is first, "no engine was loaded again"
    assert first.image_encoder_calls == 1 and second.image_encoder_calls == 1

    # The shared scale puts both maps on one raw range and says so, the reading guide too.
    assert "stretched to its own range" in w.guide.label.text()
    w.act_shared_scale.trigger()
    guide = w.guide.label.text()
    assert "share one raw colour scale" in guide and "stretched to its own range" not in guide
    tiles = w.views.grid.contents()
    joint = tiles[0].raw_range
    assert joint == tiles[1].raw_range and "shared" in tiles[0].caption and "shared" in w.views.grid.header.text()
    ms = w.comparison.maps[("itsm", "masked_max")]
    hm = ms.heatmaps[0]
    (lo, hi), (low, high) = hm.raw_range, joint
    assert np.allclose(tiles[1].full, (hm.values * (hi - lo) + lo - low) / (high - low), atol=1e-5)
    first_raw = w.maps[("itsm", "masked_max")].heatmaps[0].raw_range
    assert joint == (min(lo, first_raw[0]), max(hi, first_raw[1]))
    # The cursor reads the raw similarity back from the shared scale.
    assert np.isclose(low + float(tiles[1].full.max()) * (high - low), hi, atol=1e-5)


def _shows_prompt(w, text):
    return (w.comparison.maps.get(("itsm", w.analysis.pooling)) is not None
            and w.comparison.maps[("itsm", w.analysis.pooling)].heatmaps[0].text == text
            and w.maps.get(("itsm", w.analysis.pooling)) is not None
            and w.maps[("itsm", w.analysis.pooling)].heatmaps[0].text == text)


def test_a_second_model_that_fails_to_load_is_a_message(qtbot, make_window, tmp_path):
    w = make_window()
    wait_for_map(qtbot, w)
    w.comparison.choose()
    w.comparison.request_model(ModelChoice("eclip-tiny-vit", str(tmp_path / "missing.safetensors"), "cpu"))
    qtbot.waitUntil(lambda: "Could not load the second model" in w.banner.text(), timeout=WAIT_MS)
    idle(qtbot, w)
    assert "missing.safetensors" in w.banner.text() and "Traceback" not in w.banner.text()
    assert w.comparison.model is None and w.model == ModelChoice("eclip-tiny-vit", "random", "cpu")
    assert not w.controls.compare_picker.pending.isVisibleTo(w.controls.compare_picker)
    tiles = w.views.grid.contents()
    assert tiles[0].preview is not None and "see the message above" in tiles[1].note
    # The window goes on working: another pooling, and then a second model that loads.
    w.pooling_actions["avg"].trigger()
    idle(qtbot, w)
    assert w.views.grid.contents()[0].title.endswith("avg")
    w.comparison.request_model(SECOND)
    compare_ready(qtbot, w)
    assert w.views.grid.contents()[1].title == "eclip-tiny-rn (random) \u00b7 avg"


def test_the_comparison_exports_both_tiles_provenance(qtbot, make_window, tmp_path, saved_tiny):
    w = make_window()
    wait_for_map(qtbot, w)
    w.layout_actions["compare"].trigger()
    checkpoint = ModelChoice("eclip-tiny-vit", saved_tiny, "cpu")
    w.comparison.request_model(checkpoint)
    qtbot.waitUntil(lambda: w.comparison.model == checkpoint and not w.compute.is_busy()
                    and all(t.preview is not None for t in w.views.grid.contents()), timeout=WAIT_MS)
    # A checkpoint by its folder and file name: a title never carries the whole path.
    title = w.views.grid.contents()[1].title
    assert title.startswith("eclip-tiny-vit (") and title.endswith("/tiny.safetensors) \u00b7 native")
    assert str(tmp_path) not in title
    out = tmp_path / "out"
    w.exports.export_map(str(out))
    sidecar = out / "shapes_scene__grid-model.json"
    qtbot.waitUntil(sidecar.is_file, timeout=WAIT_MS)
    assert (out / "shapes_scene__grid-model.png").is_file()
    meta = json.loads(sidecar.read_text())
    assert meta["grid"] == "model" and meta["colour_scale"] == {"mode": "per tile"}
    first, second = meta["tile_sources"]
    assert first["model"] == second["model"] == "eclip-tiny-vit"
    assert first["pretrained"] == "random" and "weights_sha256" not in first
    assert second["pretrained"] == saved_tiny and len(second["weights_sha256"]) == 64
    for src in (first, second):
        assert src["pooling"] == "native" and src["method"] == "itsm"
        assert src["text"] == w.analysis.texts[0]
    assert first["caption"].startswith("eclip-tiny-vit (random) \u00b7 native")
    assert "pretrained" not in meta and "weights_sha256" not in meta, "two weights: none is the grid's own"
    # On the shared scale the figure says so, and the sidecar gives the joint raw range.
    w.act_shared_scale.trigger()
    w.exports.export_map(str(out), overwrite=True)
    qtbot.waitUntil(lambda: json.loads(sidecar.read_text()).get("colour_scale", {}).get("mode") == "shared",
                    timeout=WAIT_MS)
    lo, hi = json.loads(sidecar.read_text())["colour_scale"]["raw_range"]
    assert lo < hi
    idle(qtbot, w)


def test_grids_fit_a_1000_by_700_window_without_scrolling(qtbot, make_window):
    w = make_window(model=ModelChoice("eclip-shapes-vit-ft", None, "cpu"))
    w.resize(1000, 700)
    w.layout_actions["poolings"].trigger()
    qtbot.waitUntil(lambda: len(w.maps) == 4 and not w.compute.is_busy() and not w.map_controller.waiting(),
                    timeout=60_000)
    grid = w.views.grid
    qtbot.waitUntil(lambda: w.width() == 1000 and w.height() == 700 and grid.compact, timeout=5_000)
    qtbot.wait(50)  # the layouts settle
    assert w.guide.isVisible() and w.images_dock.isVisible() and w.controls_dock.isVisible()
    assert grid.area.verticalScrollBar().maximum() == 0, "the 2x2 pooling grid needs a scroll at 1000x700"
    assert all(t.glw.height() >= 70 for t in grid.tiles[:4]), "maps too small to read"
    # Short titles (the prompt, the same in every tile, moves to the header), never cut.
    titles = [t.title.text() for t in grid.tiles[:4]]
    assert titles[0] == "native" and titles[1].startswith("avg \u2014 shifted") and titles[1].endswith(")")
    assert "\u201c" in grid.header.text() and "\u201c" not in "".join(titles)
    # The comparison, one row, fits too.
    w.layout_actions["compare"].trigger()
    w.comparison.request_model(SECOND)
    compare_ready(qtbot, w)
    assert grid.area.verticalScrollBar().maximum() == 0 and not grid.compact
    # Larger windows keep the full, wrapped titles.
    w.resize(1440, 900)
    qtbot.waitUntil(lambda: not grid.compact, timeout=5_000)
    assert grid.tiles[0].title.text() == grid.contents()[0].title
    assert grid.area.verticalScrollBar().maximum() == 0


def test_a_session_keeps_the_second_model_and_the_scale(qtbot, make_window, tmp_path):
    w = make_window()
    wait_for_map(qtbot, w)
    w.layout_actions["compare"].trigger()
    w.comparison.request_model(SECOND)
    compare_ready(qtbot, w)
    w.act_shared_scale.trigger()
    path = str(tmp_path / "s.eclip.json")
    assert w.sessions.save_session(path)
    doc = json.loads(open(path).read())
    assert doc["compare"]["architecture"] == "eclip-tiny-rn" and doc["shared_scale"] is True
    other = make_window(open_sample=False)
    idle(qtbot, other)
    assert other.sessions.open_session(path)
    compare_ready(qtbot, other)
    assert other.layout_name == "compare" and other.act_shared_scale.isChecked()
    assert "shared" in other.views.grid.header.text()


def test_the_layouts_toolbar_leaves_the_display_controls_room_at_1440(qtbot, make_window):
    from PySide6.QtWidgets import QToolBar
    w = make_window()
    w.resize(1440, 900)
    w.show()
    qtbot.waitExposed(w)
    bar = w.findChild(QToolBar, "layoutToolbar")
    words = [a.iconText() for a in bar.actions() if a in w.layout_actions.values()]
    assert words == ["Side by side", "Poolings", "Prompts", "Methods", "Models"]
    # menus and tooltips keep the full names
    assert w.layout_actions["compare"].text() == "Model comparison"
    assert "Model comparison" in w.layout_actions["compare"].toolTip()
    display = w.findChild(QToolBar, "displayToolbar")
    qtbot.wait(50)
    widgets = [display.widgetForAction(a) for a in display.actions() if not a.isSeparator()]
    hidden = [x for x in widgets if x is not None and not x.isVisible()]
    assert not hidden, "display controls folded into the toolbar's overflow menu at 1440 px"
