"""The Faithfulness dock, driven through its button: curves of the map on screen, computed on the worker."""
import numpy as np
from PySide6.QtCore import Qt
from test_app import WAIT_MS, idle, make_window, no_dangling_threads_or_timers, settings, wait_for_map  # noqa: F401


def test_measure_button_plots_both_curves_of_the_map_on_screen(qtbot, make_window):
    w = make_window()
    wait_for_map(qtbot, w)
    dock = w.faithfulness.dock
    dock.steps.setValue(8)
    qtbot.mouseClick(dock.measure, Qt.LeftButton)
    qtbot.waitUntil(lambda: dock.measured is not None, timeout=WAIT_MS)
    x, deletion = dock.deletion.getData()
    _, insertion = dock.insertion.getData()
    assert len(x) == 9 and x[0] == 0 and x[-1] == 1
    # deletion starts where insertion ends: on the image itself
    assert np.isfinite(deletion).all() and np.isfinite(insertion).all()
    assert abs(deletion[0] - insertion[-1]) < 1e-4  # the untouched image, at both ends
    assert "deletion area" in dock.caption.text() and "has changed" not in dock.caption.text()
    # another prompt shown: the curves are marked as those of the previous map
    w.controls.prompts.setPlainText("a photo of a red square.\na photo of a blue circle.")
    idle(qtbot, w)
    w.controls.shown.setCurrentIndex(1)
    idle(qtbot, w)
    assert "has changed" in dock.caption.text()


def test_measure_without_a_prompt_map_says_what_to_do(qtbot, make_window):
    w = make_window()
    wait_for_map(qtbot, w)
    w.display_bar.contribution.setChecked(True)
    idle(qtbot, w)
    qtbot.mouseClick(w.faithfulness.dock.measure, Qt.LeftButton)
    assert "contribution map" in w.faithfulness.dock.caption.text() and w.faithfulness.dock.measured is None


def test_measure_in_a_grid_takes_the_highlighted_tile(qtbot, make_window):
    w = make_window()
    wait_for_map(qtbot, w)
    w.layout_actions["poolings"].trigger()
    idle(qtbot, w)
    dock = w.faithfulness.dock
    dock.steps.setValue(4)
    qtbot.mouseClick(dock.measure, Qt.LeftButton)
    qtbot.waitUntil(lambda: dock.measured is not None, timeout=WAIT_MS)
    assert (dock.measured.method, dock.measured.pooling) == (w.analysis.method, w.analysis.pooling)
