"""Buttons driven as a user drives them (mouse clicks), not through their handlers."""
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QFileDialog
from test_app import make_window, no_dangling_threads_or_timers, settings  # noqa: F401

from eclip_desktop.app.dialogs.architecture import ArchitectureDialog


@pytest.mark.parametrize("which", ["picker", "compare_picker"])
def test_open_checkpoint_button_opens_the_dialog_and_loads_the_chosen_file(qtbot, make_window, monkeypatch, saved_tiny,
                                                                            which):
    w = make_window()
    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (asked.append("file") or saved_tiny, ""))
    # The architecture dialog opens on the proposal that fits the file; the user accepts it.
    monkeypatch.setattr(ArchitectureDialog, "exec", lambda d: asked.append(d.chosen()) or QDialog.Accepted)
    picker = getattr(w.controls, which)
    with qtbot.waitSignal(picker.load_requested, timeout=5000) as got:
        qtbot.mouseClick(picker.checkpoint_button, Qt.LeftButton)
    assert asked == ["file", "eclip-tiny-vit"]
    assert got.args[0].pretrained == saved_tiny and got.args[0].architecture == "eclip-tiny-vit"


def test_open_checkpoint_button_cancelled_dialog_changes_nothing(qtbot, make_window, monkeypatch):
    w = make_window()
    before = w.controls.picker.choice()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: ("", ""))
    requested = []
    w.controls.picker.load_requested.connect(requested.append)
    qtbot.mouseClick(w.controls.picker.checkpoint_button, Qt.LeftButton)
    assert requested == [] and w.controls.picker.choice() == before
