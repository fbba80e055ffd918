"""The WordNet dock keeps its prompt row and its ConVis line in sight at the default 1440x900, whatever
the details above them hold (a long gloss, several hypernym paths)."""
from PySide6.QtCore import Qt
from test_app import make_window, no_dangling_threads_or_timers, settings  # noqa: F401
from test_app_wordnet import go, open_dock, wordnet_dirs, wordnet_env  # noqa: F401

# What the window writes there after a ConVis map (three lines in a 450 px dock).
CONVIS_STATUS = ("ConVis map of dog.n.01 shown (730 windows, concept set \u2018default\u2019): not supported "
                 "(p = 0.099, effect +0.9 sd): probably absent \u2014 best rank 31 of 8,197 (null: 999 random sets "
                 "of 11 concept(s)).")


def _wholly_visible(widget) -> bool:
    return widget.isVisible() and widget.visibleRegion().boundingRect() == widget.rect()


def test_use_as_prompt_and_its_line_are_not_cut_at_1440x900(qtbot, make_window, wordnet_env, tmp_path):
    w, dock = open_dock(qtbot, make_window)
    assert (w.width(), w.height()) == (1440, 900)
    # The dock's width on a first launch (the embedded family's narrower controls) made it wrap more.
    w.resizeDocks([dock], [450], Qt.Horizontal)
    go(qtbot, dock, "dog.n.01")  # a long gloss and two paths to the root
    dock.set_convis_status(CONVIS_STATUS)
    qtbot.wait(100)
    w.grab().save(str(tmp_path / "wordnet_1440x900.png"))
    assert _wholly_visible(dock.use_prompt) and _wholly_visible(dock.template)
    assert _wholly_visible(dock.convis_note) and dock.convis_note.text() == CONVIS_STATUS
    assert dock.convis_note.heightForWidth(dock.convis_note.width()) <= dock.convis_note.height()
    qtbot.mouseClick(dock.use_prompt, Qt.LeftButton)
    assert "a photo of a dog." in w.controls.texts()
