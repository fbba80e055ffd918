"""The checkpoint's architecture dialog: searchable, and opened on the architecture whose tensor
shapes the file has (it opened on eclip-tiny-rn in an unsearchable ~150-entry list)."""
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from eclip_desktop.app.dialogs.architecture import ArchitectureDialog
from eclip_desktop.core.model.fit import proposed_architecture
from eclip_desktop.core.model.loading import list_architectures


def _dialog(qtbot, path, current):
    names = list_architectures()
    d = ArchitectureDialog(None, path, names, current, proposed_architecture(path, names, current))
    qtbot.addWidget(d)
    d.show()
    return d


def test_the_dialog_proposes_the_architecture_that_fits_the_file(qtbot, saved_tiny):
    d = _dialog(qtbot, saved_tiny, current="eclip-tiny-rn")
    assert d.chosen() == "eclip-tiny-vit" and "fits the tensors of tiny.safetensors" in d.note.text()
    with qtbot.waitSignal(d.accepted):
        qtbot.mouseClick(d.ok_button, Qt.LeftButton)
    assert d.result() == QDialog.Accepted and d.chosen() == "eclip-tiny-vit"


def test_typing_filters_the_list_and_enter_takes_the_one_left(qtbot, saved_tiny):
    d = _dialog(qtbot, saved_tiny, current="")
    everything = d.shown()
    qtbot.keyClicks(d.filter, "rn50x1")
    assert d.shown() == ["RN50x16", "RN50x16-quickgelu"] and len(everything) > 100
    assert d.chosen() == "RN50x16"  # the proposal is filtered out: the first one shown is selected
    qtbot.keyClicks(d.filter, "6-q")
    assert d.shown() == ["RN50x16-quickgelu"]
    with qtbot.waitSignal(d.accepted):
        qtbot.keyClick(d.filter, Qt.Key_Return)
    assert d.chosen() == "RN50x16-quickgelu"


def test_no_fit_says_so_and_nothing_matching_disables_load(qtbot, tmp_path):
    bad = tmp_path / "notes.pt"
    bad.write_text("not weights")
    d = _dialog(qtbot, str(bad), current="ViT-B-16")
    assert "No listed architecture" in d.note.text() and d.chosen() == "ViT-B-16"
    qtbot.keyClicks(d.filter, "no-such-architecture")
    assert d.shown() == [] and not d.ok_button.isEnabled()
    with qtbot.waitSignal(d.rejected):
        qtbot.mouseClick(d.buttons.button(d.buttons.StandardButton.Cancel), Qt.LeftButton)
