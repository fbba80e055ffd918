"""Export Map from the window itself: the sidecar it writes is the recipe `reproduce --check` follows,
with the prompt ensemble on and off (it used to lack `ensemble` and `tau`)."""
import json

import pytest
from PySide6.QtCore import QSettings
from test_app import collect_qt_garbage

from eclip_desktop.app.main_window import MainWindow
from eclip_desktop.app.settings import AppSettings
from eclip_desktop.core.export.reproduce import TOLERANCE, reproduce_check
from eclip_desktop.core.model.loading import ModelSpec, load_model

WAIT_MS = 30_000


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    from safetensors.torch import save_file
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    state = load_model(ModelSpec("eclip-tiny-vit", "random", "cpu")).model.state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return str(path)


@pytest.fixture
def window(qtbot, tmp_path, ckpt):
    settings = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    w = MainWindow(model=ModelSpec("eclip-tiny-vit", ckpt, "cpu"), settings=settings, restore_geometry=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: _idle(w), timeout=WAIT_MS)
    yield w
    w.close()
    w = None  # noqa: F841 - dropped before the collection, which must free it on this (the GUI) thread
    collect_qt_garbage([])


def _idle(w) -> bool:
    return (w.views.side.map.has_map() and not w.compute.is_busy() and not w.io.is_busy()
            and not w.map_controller.waiting())


def _shown(w):
    return w.maps.get((w.analysis.method, w.analysis.pooling))


def _export(qtbot, w, out):
    """Export Map into `out`; the sidecar path once it and its files are written."""
    w.exports.export_map(str(out))
    qtbot.waitUntil(lambda: len(list(out.glob("[!.]*.json"))) == 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not w.io.is_busy(), timeout=WAIT_MS)
    return next(out.glob("[!.]*.json"))


@pytest.mark.parametrize("ensemble", [False, True])
def test_window_export_reproduces(qtbot, tmp_path, ckpt, window, ensemble):
    w = window
    if ensemble:
        w.controls.ensemble.setChecked(True)
        qtbot.waitUntil(lambda: _idle(w) and _shown(w).ensemble, timeout=WAIT_MS)
    sidecar = _export(qtbot, w, tmp_path / "export")
    meta = json.loads(sidecar.read_text())
    assert meta["ensemble"] is ensemble and meta["pretrained"] == ckpt
    # the window asks for the weights' own threshold; the sidecar states it (this checkpoint: mean)
    assert w.analysis.tau == "trained" and meta["tau"] == "mean"
    _, diff, _ = reproduce_check(sidecar)
    assert diff <= TOLERANCE


def test_window_export_describes_the_map_on_screen_not_the_controls(qtbot, tmp_path, window):
    """A Surgery switch flipped after the map was drawn (its recompute not yet run) must not leak
    into the sidecar: the export states how the exported map was made, so it reproduces."""
    w = window
    w.controls.method.setCurrentIndex(w.controls.method.findData("surgery"))
    qtbot.waitUntil(lambda: _idle(w) and _shown(w) is not None and _shown(w).method == "surgery", timeout=WAIT_MS)
    drawn_with = dict(_shown(w).method_options)
    assert drawn_with == {"vv": True, "feature": True, "empty_text": "matched"}
    w.analysis.set_option("surgery", "vv", False)  # the controls changed; the map on screen is still the one drawn with v-v
    sidecar = _export(qtbot, w, tmp_path / "export")
    meta = json.loads(sidecar.read_text())
    assert meta["method"] == "surgery" and meta["method_options"] == drawn_with
    _, diff, _ = reproduce_check(sidecar)
    assert diff <= TOLERANCE
