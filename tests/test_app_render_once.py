"""A change renders once: a pooling key press draws the window once, and asks the worker for one job at most."""
from __future__ import annotations

from PySide6.QtCore import Qt
from test_app import WAIT_MS, idle, make_window, no_dangling_threads_or_timers, settings, wait_for_map  # noqa: F401

from eclip_desktop.core.model.family import FAMILY
from eclip_desktop.core.model.poolings import pooling_names
from eclip_desktop.viewer.state import ModelChoice


def press(qtbot, w, key) -> tuple[int, int]:
    """Renders and jobs a key press causes before the event loop turns again, then until all is settled."""
    renders, jobs = w.maps_area.renders, w.compute.submitted
    w.views.setFocus()
    qtbot.keyClick(w.views, key)
    return w.maps_area.renders - renders, w.compute.submitted - jobs


def test_a_pooling_key_renders_once_and_one_model_needs_no_job(qtbot, make_window):
    """One model reads every pooling out of its one pass: the key press costs one render, no job."""
    w = make_window()
    wait_for_map(qtbot, w)
    renders, jobs = w.maps_area.renders, w.compute.submitted
    rendered, _ = press(qtbot, w, Qt.Key_2)
    assert w.analysis.pooling == pooling_names()[1]
    assert rendered == 1
    idle(qtbot, w)
    assert w.maps_area.renders - renders == 1 and w.compute.submitted == jobs


def test_a_family_pooling_key_renders_once_then_once_for_its_one_job(qtbot, make_window):
    """A family: each pooling is its own model, so a new pooling needs one job, and its map one more render
    (before: key, request, partial and result each drew the window)."""
    w = make_window(model=ModelChoice(FAMILY, None, "cpu"))
    wait_for_map(qtbot, w, timeout=60_000)
    shown = w.analysis.pooling
    other = next(p for p in w.model.poolings() if p != shown)
    key = Qt.Key_1 + pooling_names().index(other)
    renders, jobs = w.maps_area.renders, w.compute.submitted
    rendered, _ = press(qtbot, w, key)
    assert w.analysis.pooling == other and rendered == 1
    qtbot.waitUntil(lambda: (w.analysis.method, other) in w.maps, timeout=60_000)
    idle(qtbot, w, timeout=60_000)
    assert w.compute.submitted - jobs == 1, "one maps job for the new pooling"
    assert w.maps_area.renders - renders == 2, "once for the key, once for its map"
    # Back: the first pooling's map is cached, so one render and no job.
    renders, jobs = w.maps_area.renders, w.compute.submitted
    rendered, _ = press(qtbot, w, Qt.Key_1 + pooling_names().index(shown))
    idle(qtbot, w)
    assert rendered == 1 and w.maps_area.renders - renders == 1 and w.compute.submitted == jobs


def test_a_redundant_refresh_draws_nothing(qtbot, make_window):
    w = make_window()
    wait_for_map(qtbot, w)
    before = w.maps_area.renders
    for _ in range(3):
        w.refresh()
    assert w.maps_area.renders == before


def test_the_first_screen_says_one_model_per_pooling_while_the_family_loads(qtbot, make_window):
    """The first screen's point is the semantic shift: its header must not say "one model" meanwhile."""
    w = make_window(model="auto")
    assert w.layout_name == "poolings" and w.model is None  # still loading
    header = w.views.grid.header.text()
    assert "One model per pooling" in header and "same under every pooling" not in header
    qtbot.waitUntil(lambda: w.model is not None, timeout=60_000)
    assert "One model per pooling" in w.views.grid.header.text()
    qtbot.waitUntil(w.settled, timeout=60_000)


def test_the_first_frame_names_the_model_being_loaded(qtbot, make_window):
    w = make_window()
    assert w.model is None and w.controls.picker.arch.currentText() == "eclip-tiny-vit"
    assert "loading eclip-tiny-vit" in w.views.side.map.note.toPlainText()
    qtbot.waitUntil(w.settled, timeout=60_000)
