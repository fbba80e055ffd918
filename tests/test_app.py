"""End-to-end tests of the desktop window (offscreen), with the tiny random model injected."""
import json
import time

import numpy as np
import pytest
from conftest import write_image
from PySide6 import QtCore
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication

from eclip_desktop.app.main_window import MainWindow
from eclip_desktop.app.samples import sample_path, sample_prompts
from eclip_desktop.app.settings import AppSettings
from eclip_desktop.app.state import ModelChoice
from eclip_desktop.app.workers.jobs import Job
from eclip_desktop.core.model.loading import ModelSpec

TINY = ModelSpec("eclip-tiny-vit", "random", "cpu")
WAIT_MS = 20_000


@pytest.fixture(autouse=True)
def no_dangling_threads_or_timers(monkeypatch):
    """Fail a test that leaves a QThread running or one of its QTimers active (as napari does)."""
    threads, timers = [], []
    start_thread, start_timer = QtCore.QThread.start, QtCore.QTimer.start

    def thread_start(self, *a):
        threads.append(self)
        return start_thread(self, *a)

    def timer_start(self, *a):
        timers.append(self)
        return start_timer(self, *a)

    monkeypatch.setattr(QtCore.QThread, "start", thread_start)
    monkeypatch.setattr(QtCore.QTimer, "start", timer_start)
    yield
    monkeypatch.undo()
    running = [t.objectName() for t in threads if _alive(t) and t.isRunning()]
    active = [t for t in timers if _alive(t) and t.isActive()]
    assert not running, f"threads still running after the test: {running}"
    assert not active, f"{len(active)} timer(s) still active after the test"


def _alive(obj) -> bool:
    try:
        obj.objectName()
        return True
    except RuntimeError:  # the C++ object is gone, so it cannot be running
        return False


@pytest.fixture
def settings(tmp_path):
    return AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))


@pytest.fixture
def make_window(qtbot, settings):
    made = []

    def make(**kw):
        kw.setdefault("model", TINY)
        kw.setdefault("settings", settings)
        kw.setdefault("restore_geometry", False)
        w = MainWindow(**kw)
        qtbot.addWidget(w)
        w.show()
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()
        assert w.compute.thread.isFinished() and w.io.thread.isFinished()


def wait_for_map(qtbot, w, timeout=WAIT_MS):
    qtbot.waitUntil(lambda: w.views.side.map.has_map() and not w.compute.is_busy()
                    and not w._debounce.isActive(), timeout=timeout)


def idle(qtbot, w, timeout=WAIT_MS):
    qtbot.waitUntil(lambda: not w.compute.is_busy() and not w.io.is_busy() and not w._debounce.isActive(),
                    timeout=timeout)


def test_launch_shows_the_sample_explained(qtbot, make_window):
    w = make_window()
    wait_for_map(qtbot, w)
    heat = w.views.side.map.heat.image
    assert heat is not None and heat.ndim == 2
    assert float(np.ptp(heat)) > 0.1, "the heatmap is constant"
    assert w.views.side.image.base.image.shape[:2] == (256, 256)
    assert w.image_list.current_path() == str(sample_path())
    assert w.analysis.texts == sample_prompts()
    assert "cpu" in w.status.device_label.text()
    assert w.views.side.scores.labels == sample_prompts()
    assert not w.banner.isVisible()
    # The status bar reads the map under the cursor, in the image's own pixel coordinates.
    side = w.views.side
    pos = side.map.vb.mapViewToScene(QPointF(100.5, 40.5))
    side.glw.scene().sigMouseMoved.emit(pos)
    assert f"map {side.map.values[40, 100]:.3f}" in w.status.cursor_label.text()
    assert w.status.cursor_label.text().startswith("x 100, y 40")


def test_pooling_key_changes_scores_without_encoding_again(qtbot, make_window):
    w = make_window()
    wait_for_map(qtbot, w)
    engine = w.current_engine()
    assert engine.image_encoder_calls == 1
    before = list(w.views.side.scores.probabilities)
    jobs = w.compute.submitted
    w.activateWindow()
    qtbot.keyClick(w, Qt.Key_3)  # pooling 3 = max
    assert w.analysis.pooling == "max"
    assert w.pooling_actions["max"].isChecked()
    after = list(w.views.side.scores.probabilities)
    assert not np.allclose(before, after), "the zero-shot scores did not change with the pooling"
    assert "max" in w.views.side.scores.title
    assert engine.image_encoder_calls == 1
    assert w.compute.submitted == jobs, "a single model needs no job to switch the pooling readout"


def test_typing_a_prompt_updates_the_map_after_the_debounce(qtbot, make_window):
    w = make_window()
    wait_for_map(qtbot, w)
    jobs = w.compute.submitted
    old = w.maps[("itsm", "native")]
    editor = w.controls.prompts
    editor.setFocus()
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    qtbot.keyClick(editor, Qt.Key_Return)
    qtbot.keyClicks(editor, "a 1 red square")
    # Typing queued nothing; '1' went into the text, not to the pooling shortcut.
    assert w.compute.submitted == jobs
    assert w.analysis.pooling == "native"
    qtbot.waitUntil(lambda: "a 1 red square" in w.views.side.scores.labels, timeout=WAIT_MS)
    idle(qtbot, w)
    assert w.compute.submitted == jobs + 1, "keystrokes were not coalesced into one job"
    new = w.maps[("itsm", "native")]
    assert new is not old and [h.text for h in new.heatmaps][-1] == "a 1 red square"
    w.controls.shown.setCurrentIndex(4)
    assert "a 1 red square" in w.views.side.right_title.full_text()
    assert np.array_equal(w.views.side.map.values, new.heatmaps[4].values)
    assert w.current_engine().image_encoder_calls == 1


def test_corrupt_image_and_non_image_drop_give_messages(qtbot, make_window, tmp_path):
    w = make_window()
    wait_for_map(qtbot, w)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"this is not a png")
    w.open_paths([str(bad)])
    qtbot.waitUntil(lambda: "broken.png" in w.banner.text(), timeout=WAIT_MS)
    assert w.banner.level == "error"
    idle(qtbot, w)
    assert not w.views.side.map.has_map()
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(notes))])
    w.dropEvent(QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    assert "notes.txt" in w.banner.text() and "Not an image" in w.banner.text()
    assert w.image_list.count() == 2  # the text file was not added
    w.image_list.select(str(sample_path()))  # the app still works
    wait_for_map(qtbot, w)


def test_bad_checkpoint_and_overlong_prompt_give_messages(qtbot, make_window, tmp_path):
    w = make_window()
    wait_for_map(qtbot, w)
    w.controls.prompts.setPlainText("a photo of " + "a very long description " * 20)
    qtbot.waitUntil(lambda: "token" in w.banner.text(), timeout=WAIT_MS)
    assert w.banner.source == "maps"
    w.controls.picker.open_checkpoint(str(tmp_path / "missing.safetensors"), "eclip-tiny-vit")
    qtbot.waitUntil(lambda: "Could not load" in w.banner.text(), timeout=WAIT_MS)
    assert "missing.safetensors" in w.banner.text()
    assert w.model == ModelChoice("eclip-tiny-vit", "random", "cpu"), "a failed load keeps the working model"
    assert w.controls.picker.choice() == ModelChoice("eclip-tiny-vit", "random"), "and the picker names it again"
    w.controls.prompts.setPlainText("a photo of a cat.")
    qtbot.waitUntil(lambda: w.views.side.scores.labels == ["a photo of a cat."], timeout=WAIT_MS)
    assert not w.banner.isVisible() or w.banner.source != "maps"


def test_drop_and_keyboard_navigation(qtbot, make_window, tmp_path):
    w = make_window()
    wait_for_map(qtbot, w)
    a, b = write_image(tmp_path / "a.png", seed=1), write_image(tmp_path / "b.png", seed=2, w=80, h=60)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(a), QUrl.fromLocalFile(b)])
    w.dropEvent(QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    assert w.image_list.current_path() == a
    wait_for_map(qtbot, w)
    assert w.views.side.image.size == (96, 72)
    w.activateWindow()
    qtbot.keyClick(w, Qt.Key_PageDown)
    assert w.image_list.current_path() == b
    qtbot.waitUntil(lambda: w.views.side.image.size == (80, 60), timeout=WAIT_MS)
    wait_for_map(qtbot, w)
    assert w.views.side.map.values.shape == (60, 80)
    qtbot.waitUntil(lambda: not w.image_list.item(2).icon().isNull(), timeout=WAIT_MS)
    assert w.settings.recent()[0] == b and w.settings.last_dir() == str(tmp_path)


def test_display_changes_run_no_job(qtbot, make_window):
    w = make_window()
    wait_for_map(qtbot, w)
    jobs = w.compute.submitted
    bar, heat = w.display_bar, w.views.side.map.heat
    bar.colormap.setCurrentText("magma")
    bar.opacity.setValue(30)
    bar.percentile.setCurrentIndex(bar.percentile.findData(95.0))
    bar.threshold.setCurrentIndex(bar.threshold.findData("otsu"))
    assert w.display.colormap == "magma" and w.display.opacity == pytest.approx(0.3)
    assert heat.opacity() == pytest.approx(0.3)
    from eclip_desktop.core.figures.render import colormap_lut
    assert np.array_equal(heat.lut, colormap_lut("magma"))
    lo, hi = heat.levels
    assert 0.0 < lo < hi < 1.0, "95 % levels should clip both tails"
    assert w.views.side.map.outline_visible()
    assert w.compute.submitted == jobs


def test_cancel_a_long_job_within_a_second(qtbot, make_window):
    w = make_window()
    wait_for_map(qtbot, w)

    def slow(ctx):
        for _ in range(600):  # 30 s unless cancelled
            ctx.sleep(0.05)

    w.compute.submit(Job("slow", slow, label="slow job"))
    qtbot.waitUntil(lambda: w.status.cancel_button.isVisible() and w.status.job_label.text() == "slow job",
                    timeout=WAIT_MS)
    t0 = time.perf_counter()
    qtbot.mouseClick(w.status.cancel_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.compute.is_busy(), timeout=3000)
    elapsed = time.perf_counter() - t0
    assert elapsed < 1.0, f"cancel took {elapsed:.2f} s"
    assert "cancelled" in w.status.job_label.text()
    assert not w.status.cancel_button.isVisible()


def test_closing_during_a_job_stops_the_worker(qtbot, make_window):
    w = make_window()

    def slow(ctx):
        for _ in range(600):
            ctx.sleep(0.05)

    w.compute.submit(Job("slow", slow, label="slow job"))
    qtbot.waitUntil(lambda: w.status.job_label.text() == "slow job", timeout=WAIT_MS)
    t0 = time.perf_counter()
    w.close()
    assert time.perf_counter() - t0 < 2.0
    assert w.compute.thread.isFinished() and w.io.thread.isFinished()


def test_session_round_trip(qtbot, make_window, tmp_path):
    w = make_window()
    wait_for_map(qtbot, w)
    extra = write_image(tmp_path / "extra.png", seed=3)
    w.open_paths([extra])
    w.controls.prompts.setPlainText("a photo of a star.\na photo of a hexagon.")
    w.set_pooling("masked_max")
    w.controls.method.setCurrentIndex(w.controls.method.findData("surgery"))
    w.controls.vv.setChecked(False)
    w.display_bar.colormap.setCurrentText("cividis")
    w.display_bar.opacity.setValue(35)
    w.display_bar.threshold.setCurrentIndex(w.display_bar.threshold.findData("percentile"))
    w.set_layout("prompts")
    idle(qtbot, w)
    path = tmp_path / "s.eclip.json"
    assert w.save_session(str(path))
    doc = json.loads(path.read_text())
    assert doc["format"] == "eclip-desktop-session" and doc["version"] == 1

    w2 = make_window(model=None, open_sample=False)
    assert w2.open_session(str(path))
    idle(qtbot, w2)
    assert w2.image_list.paths() == w.image_list.paths()
    assert w2.image_list.current_path() == extra
    assert w2.analysis.texts == ["a photo of a star.", "a photo of a hexagon."]
    assert (w2.analysis.pooling, w2.analysis.method, w2.analysis.vv) == ("masked_max", "surgery", False)
    assert w2.display == w.display and w2.display.colormap == "cividis"
    assert w2.layout_name == "prompts" and w2.layout_actions["prompts"].isChecked()
    assert w2.model == ModelChoice("eclip-tiny-vit", "random", "cpu")
    qtbot.waitUntil(lambda: ("surgery", "masked_max") in w2.maps, timeout=WAIT_MS)
    assert len(w2.views.grid.contents()) == 2


def test_newer_or_broken_session_gives_a_message(qtbot, make_window, tmp_path):
    w = make_window(model=None, open_sample=False)
    newer = tmp_path / "new.eclip.json"
    newer.write_text(json.dumps({"format": "eclip-desktop-session", "version": 99}))
    assert not w.open_session(str(newer))
    assert "newer eclip-desktop" in w.banner.text() and "version 99" in w.banner.text()
    broken = tmp_path / "broken.eclip.json"
    broken.write_text("{ not json")
    assert not w.open_session(str(broken))
    assert "not a valid session" in w.banner.text()


def test_no_model_work_on_the_ui_thread(qtbot, make_window, tmp_path, monkeypatch):
    """Structure, not timing: every forward pass, model load and image decode of a real session
    runs off the UI thread. (How long the UI thread pauses is a benchmark, not a test:
    scripts/bench_ui_stall.py, figure in docs/RESULTS.md.)"""
    import threading

    import torch

    from eclip_desktop.app.workers import compute
    from eclip_desktop.core.io import imageio
    from eclip_desktop.core.model import loading
    on_ui = []

    def watch(name, fn):
        def wrapper(*a, **kw):
            if threading.current_thread() is threading.main_thread():
                on_ui.append(name)
            return fn(*a, **kw)
        return wrapper

    monkeypatch.setattr(torch.nn.Module, "__call__", watch("forward", torch.nn.Module.__call__))
    monkeypatch.setattr(loading, "load_model", watch("load_model", loading.load_model))
    monkeypatch.setattr(imageio, "load_image", watch("load_image", imageio.load_image))
    monkeypatch.setattr(compute, "load_image", watch("load_image", compute.load_image))
    w = make_window()
    wait_for_map(qtbot, w)
    # A new photo-sized image, several prompts with the ensemble, every pooling, a grid, another model.
    w.controls.prompts.setPlainText("\n".join(f"a photo of a shape number {i}." for i in range(4)))
    w.controls.ensemble.setChecked(True)
    w.open_paths([write_image(tmp_path / "big.png", w=1600, h=1200, seed=5)])
    wait_for_map(qtbot, w)
    for key in ("avg", "masked_max"):
        w.set_pooling(key)
        wait_for_map(qtbot, w)
    w.set_layout("poolings")
    idle(qtbot, w)
    w.request_model(ModelChoice("eclip-tiny-rn", "random", "cpu"))
    qtbot.waitUntil(lambda: w.model is not None and w.model.architecture == "eclip-tiny-rn", timeout=WAIT_MS)
    idle(qtbot, w)
    # The model comparison: a second model loaded and explaining beside the first.
    w.set_layout("compare")
    w.request_compare_model(ModelChoice("eclip-tiny-vit", "random", "cpu"))
    qtbot.waitUntil(lambda: ("itsm", "masked_max") in w.compare_maps, timeout=WAIT_MS)
    idle(qtbot, w)
    assert w.maps[("itsm", "masked_max")].heatmaps[0].values.shape == (1200, 1600)
    assert not on_ui, f"model or image work ran on the UI thread: {sorted(set(on_ui))}"


def test_copy_figure_and_export(qtbot, make_window, tmp_path):
    w = make_window()
    wait_for_map(qtbot, w)
    QApplication.clipboard().clear()
    w.copy_figure()
    qtbot.waitUntil(lambda: not QApplication.clipboard().image().isNull(), timeout=WAIT_MS)
    img = QApplication.clipboard().image()
    assert img.width() > 256 and img.height() > 256  # the map plus title and colorbar
    out = tmp_path / "export"
    w.export_map(str(out))
    # Wait for the three final names, not temporary files of the atomic writes.
    qtbot.waitUntil(lambda: sorted(p.suffix for p in out.glob("[!.]*")) == [".json", ".npy", ".png"],
                    timeout=WAIT_MS)
    npy = next(out.glob("*.npy"))
    assert npy.name == "shapes_scene__itsm__native__a-photo-of-a-purple-ellipse.npy"
    assert np.load(npy).shape == (256, 256)
    sidecar = json.loads(next(out.glob("*.json")).read_text())
    assert sidecar["pooling"] == "native" and sidecar["model"] == "eclip-tiny-vit"


def test_no_embedded_model_shows_banner_and_sample(qtbot, make_window, monkeypatch):
    monkeypatch.setattr("eclip_desktop.app.main_window.family_available", lambda: False)
    w = make_window(model="auto")
    assert "No embedded model found" in w.banner.text()
    qtbot.waitUntil(lambda: w.views.side.image.base.image is not None, timeout=WAIT_MS)
    idle(qtbot, w)
    assert w.model is None and not w.views.side.map.has_map()
    assert "no model loaded" in w.views.side.map.note.toPlainText()
    assert not w.compute.state.engines, "no weights may be loaded silently"


def test_family_pooling_switches_the_model(qtbot, make_window, monkeypatch):
    # Stand in for the trained family with two tiny random siblings.
    siblings = {"native": ModelSpec("eclip-tiny-vit", "random", "cpu"),
                "max": ModelSpec("eclip-tiny-rn", "random", "cpu")}
    monkeypatch.setattr("eclip_desktop.app.state.family_spec",
                        lambda p, device="auto", dtype="auto", name=None: siblings[p])
    for target in ("eclip_desktop.app.state", "eclip_desktop.core.model.family"):
        monkeypatch.setattr(f"{target}.available_poolings", lambda name=None: ["native", "max"])
    w = make_window(model=ModelChoice("eclip-shapes"))
    qtbot.waitUntil(lambda: w.model is not None, timeout=WAIT_MS)
    assert w.analysis.pooling == "native"  # masked_max is not in this family
    assert not w.pooling_actions["avg"].isEnabled()
    wait_for_map(qtbot, w)
    first = w.views.side.map.values.copy()
    w.set_pooling("max")
    qtbot.waitUntil(lambda: ("itsm", "max") in w.maps, timeout=WAIT_MS)
    wait_for_map(qtbot, w)
    assert w.current_engine().handle.spec == siblings["max"]
    assert not np.array_equal(first, w.views.side.map.values), "the sibling model gives its own map"
    assert w.maps[("itsm", "max")].trained_with_pooling
    w.set_layout("poolings")
    assert [c.title.split(" \u00b7 ")[0] for c in w.views.grid.contents()] == [
        "native (class token / attention pool)", "max"]


def test_window_layout_is_remembered(qtbot, make_window, settings):
    # The offscreen screen is 800x600, so Qt clamps a restored size; dock state is restored exactly.
    w = make_window(model=None, open_sample=False)
    w.images_dock.hide()
    w.close()
    geometry, state = settings.geometry()
    assert geometry is not None and state is not None and len(state) > 0
    restored = make_window(model=None, open_sample=False, restore_geometry=True)
    assert restored.images_dock.isHidden()
    fresh = make_window(model=None, open_sample=False, restore_geometry=False)
    assert not fresh.images_dock.isHidden()


def test_cli_starts_the_gui(monkeypatch):
    from eclip_desktop import cli
    calls = []
    monkeypatch.setattr("eclip_desktop.app.run", lambda **kw: calls.append(kw) or 0)
    assert cli.main([]) == 0
    assert cli.main(["gui", "a.png", "b.png", "--model", "RN50", "--pretrained", "random", "--device", "cpu"]) == 0
    assert calls[0]["images"] == [] and calls[0]["model"] is None
    assert calls[1]["images"] == ["a.png", "b.png"]
    assert (calls[1]["model"], calls[1]["pretrained"], calls[1]["device"]) == ("RN50", "random", "cpu")


def test_picker_starts_on_a_real_model_not_a_tiny_config(monkeypatch):
    from eclip_desktop.app.widgets import model_picker
    monkeypatch.setattr(model_picker, "family_available", lambda: False)
    monkeypatch.setattr(model_picker, "is_tag_cached", lambda arch, tag: arch == "RN50")
    names = ["eclip-tiny-rn", "RN50", "ViT-B-16"]
    assert model_picker.initial_architecture(names) == "RN50"
    monkeypatch.setattr(model_picker, "is_tag_cached", lambda arch, tag: False)
    assert model_picker.initial_architecture(names) == "ViT-B-16"
    monkeypatch.setattr(model_picker, "family_available", lambda: True)
    assert model_picker.initial_architecture(names) == model_picker.FAMILY


def test_export_options_format_layout_and_width(qtbot, make_window, tmp_path):
    import xml.etree.ElementTree as ET

    from PIL import Image

    from eclip_desktop.app.dialogs.export import ExportMapDialog
    from eclip_desktop.app.views.figure import FigureOptions
    w = make_window()
    wait_for_map(qtbot, w)
    stem = "shapes_scene__itsm__native__a-photo-of-a-purple-ellipse"
    plain, wide = tmp_path / "plain", tmp_path / "wide"
    w.export_map(str(plain))
    w.export_map(str(wide), options=FigureOptions("tiff", "side", 600))
    qtbot.waitUntil(lambda: (wide / f"{stem}.json").is_file() and (plain / f"{stem}.json").is_file(),
                    timeout=WAIT_MS)
    single = Image.open(plain / f"{stem}.png")
    both = Image.open(wide / f"{stem}.tif")
    assert both.width > 2 * 600 > single.width  # two 600 px panels side by side, then title and colorbar
    meta = json.loads((wide / f"{stem}.json").read_text())
    assert meta["figure_options"] == {"format": "tiff", "layout": "side", "width": 600}
    assert meta["files"]["figure"] == f"{stem}.tif"
    assert np.load(wide / f"{stem}.npy").shape == (256, 256)  # the raw map keeps the image size

    svg = tmp_path / "svg"
    w.export_map(str(svg), options=FigureOptions("svg"))
    qtbot.waitUntil(lambda: (svg / f"{stem}.json").is_file(), timeout=WAIT_MS)
    root = ET.parse(svg / f"{stem}.svg").getroot()
    texts = "".join("".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "a photo of a purple ellipse" in texts  # the title is real text, not pixels

    d = ExportMapDialog(w, str(tmp_path), FigureOptions("jpeg", "side", 300))
    qtbot.addWidget(d)
    assert d.result_options() == (str(tmp_path), FigureOptions("jpeg", "side", 300))
    with pytest.raises(ValueError, match="unknown figure format 'gif'"):
        FigureOptions("gif")
    with pytest.raises(ValueError, match="figure width"):
        FigureOptions(width=-5)


def test_copy_and_export_a_grid_layout(qtbot, make_window, tmp_path):
    w = make_window()
    wait_for_map(qtbot, w)
    w.set_layout("prompts")
    idle(qtbot, w)
    QApplication.clipboard().clear()
    w.copy_figure()
    qtbot.waitUntil(lambda: not QApplication.clipboard().image().isNull(), timeout=WAIT_MS)
    n = len(w.analysis.texts)
    assert QApplication.clipboard().image().width() > n * 256  # one tile per prompt
    out = tmp_path / "grid"
    w.export_map(str(out))
    qtbot.waitUntil(lambda: (out / "shapes_scene__grid-prompt.json").is_file(), timeout=WAIT_MS)
    meta = json.loads((out / "shapes_scene__grid-prompt.json").read_text())
    assert meta["grid"] == "prompt" and len(meta["tiles"]) == n
    assert meta["tiles"][0].startswith("\u201ca photo of a purple ellipse.\u201d")
    w.set_layout("poolings")
    idle(qtbot, w)
    w.export_map(str(out))
    qtbot.waitUntil(lambda: (out / "shapes_scene__grid-pooling.json").is_file(), timeout=WAIT_MS)
    meta = json.loads((out / "shapes_scene__grid-pooling.json").read_text())
    assert [t.split(" \u00b7 ")[0] for t in meta["tiles"]] == ["native", "avg", "max", "masked max"]


def test_window_surgery_single_text_with_ensemble_uses_the_reference_rule(qtbot, make_window, tmp_path):
    # Issue 17: the window computes through the same Engine, so a single prompt with the ensemble
    # subtracts the ensembled empty string; its exported sidecar says so and records the ensemble.
    w = make_window()
    wait_for_map(qtbot, w)
    w.controls.prompts.setPlainText("a photo of a star.")
    w.controls.ensemble.setChecked(True)
    w.controls.method.setCurrentIndex(w.controls.method.findData("surgery"))
    qtbot.waitUntil(lambda: ("surgery", "native") in w.maps and w.analysis.ensemble and not w.compute.is_busy(),
                    timeout=WAIT_MS)
    idle(qtbot, w)
    assert w.maps[("surgery", "native")].heatmaps[0].meta == {"surgery_empty_text": "ensemble"}
    out = tmp_path / "export"
    w.export_map(str(out))
    qtbot.waitUntil(lambda: sorted(p.suffix for p in out.glob("[!.]*")) == [".json", ".npy", ".png"],
                    timeout=WAIT_MS)
    sidecar = json.loads(next(out.glob("*.json")).read_text())
    assert sidecar["method"] == "surgery" and sidecar["ensemble"] is True
    assert sidecar["surgery_empty_text"] == "ensemble" and sidecar["activation"] == "gelu"
