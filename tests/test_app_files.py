"""The window's files: sessions saved and restored, Copy Figure and Export Map (single maps and grid
layouts, figure options), offscreen with the tiny random model."""
import json

import numpy as np
import pytest
from conftest import write_image
from PySide6.QtWidgets import QApplication
from test_app import (  # noqa: F401
    WAIT_MS,
    idle,
    make_window,
    no_dangling_threads_or_timers,
    settings,
    wait_for_map,
)

from eclip_desktop.viewer.state import ModelChoice


def test_session_round_trip(qtbot, make_window, tmp_path):
    w = make_window()
    wait_for_map(qtbot, w)
    extra = write_image(tmp_path / "extra.png", seed=3)
    w.files.open_paths([extra])
    w.controls.prompts.setPlainText("a photo of a star.\na photo of a hexagon.")
    w.pooling_actions["masked_max"].trigger()
    w.controls.method.setCurrentIndex(w.controls.method.findData("surgery"))
    w.controls.method_options.controls["surgery"]["vv"].setChecked(False)
    w.display_bar.colormap.setCurrentText("cividis")
    w.display_bar.opacity.setValue(35)
    w.display_bar.threshold.setCurrentIndex(w.display_bar.threshold.findData("percentile"))
    w.layout_actions["prompts"].trigger()
    idle(qtbot, w)
    path = tmp_path / "s.eclip.json"
    assert w.sessions.save_session(str(path))
    doc = json.loads(path.read_text())
    assert doc["format"] == "eclip-desktop-session" and doc["version"] == 1

    w2 = make_window(model=None, open_sample=False)
    assert w2.sessions.open_session(str(path))
    idle(qtbot, w2)
    assert w2.image_list.paths() == w.image_list.paths()
    assert w2.image_list.current_path() == extra
    assert w2.analysis.texts == ["a photo of a star.", "a photo of a hexagon."]
    assert (w2.analysis.pooling, w2.analysis.method) == ("masked_max", "surgery")
    assert w2.analysis.method_options("surgery")["vv"] is False
    assert w2.display == w.display and w2.display.colormap == "cividis"
    assert w2.layout_name == "prompts" and w2.layout_actions["prompts"].isChecked()
    assert w2.model == ModelChoice("eclip-tiny-vit", "random", "cpu")
    qtbot.waitUntil(lambda: ("surgery", "masked_max") in w2.maps, timeout=WAIT_MS)
    assert len(w2.views.grid.contents()) == 2


def test_newer_or_broken_session_gives_a_message(qtbot, make_window, tmp_path):
    w = make_window(model=None, open_sample=False)
    newer = tmp_path / "new.eclip.json"
    newer.write_text(json.dumps({"format": "eclip-desktop-session", "version": 99}))
    assert not w.sessions.open_session(str(newer))
    assert "newer eclip-desktop" in w.banner.text() and "version 99" in w.banner.text()
    broken = tmp_path / "broken.eclip.json"
    broken.write_text("{ not json")
    assert not w.sessions.open_session(str(broken))
    assert "not a valid session" in w.banner.text()


def test_copy_figure_and_export(qtbot, make_window, tmp_path):
    w = make_window()
    wait_for_map(qtbot, w)
    QApplication.clipboard().clear()
    w.act_copy.trigger()
    qtbot.waitUntil(lambda: not QApplication.clipboard().image().isNull(), timeout=WAIT_MS)
    img = QApplication.clipboard().image()
    assert img.width() > 256 and img.height() > 256  # the map plus title and colorbar
    out = tmp_path / "export"
    w.exports.export_map(str(out))
    # Wait for the three final names, not temporary files of the atomic writes.
    qtbot.waitUntil(lambda: sorted(p.suffix for p in out.glob("[!.]*")) == [".json", ".npy", ".png"],
                    timeout=WAIT_MS)
    npy = next(out.glob("*.npy"))
    assert npy.name == "shapes_scene__itsm__native__a-photo-of-a-purple-ellipse.npy"
    assert np.load(npy).shape == (256, 256)
    sidecar = json.loads(next(out.glob("*.json")).read_text())
    assert sidecar["pooling"] == "native" and sidecar["model"] == "eclip-tiny-vit"


def test_export_options_format_layout_and_width(qtbot, make_window, tmp_path):
    import xml.etree.ElementTree as ET

    from PIL import Image

    from eclip_desktop.app.dialogs.export import ExportMapDialog
    from eclip_desktop.viewer.figure import FigureOptions
    w = make_window()
    wait_for_map(qtbot, w)
    stem = "shapes_scene__itsm__native__a-photo-of-a-purple-ellipse"
    plain, wide = tmp_path / "plain", tmp_path / "wide"
    w.exports.export_map(str(plain))
    w.exports.export_map(str(wide), options=FigureOptions("tiff", "side", 600))
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
    w.exports.export_map(str(svg), options=FigureOptions("svg"))
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
    w.layout_actions["prompts"].trigger()
    idle(qtbot, w)
    QApplication.clipboard().clear()
    w.act_copy.trigger()
    qtbot.waitUntil(lambda: not QApplication.clipboard().image().isNull(), timeout=WAIT_MS)
    n = len(w.analysis.texts)
    assert QApplication.clipboard().image().width() > n * 256  # one tile per prompt
    out = tmp_path / "grid"
    w.exports.export_map(str(out))
    qtbot.waitUntil(lambda: (out / "shapes_scene__grid-prompt.json").is_file(), timeout=WAIT_MS)
    meta = json.loads((out / "shapes_scene__grid-prompt.json").read_text())
    assert meta["grid"] == "prompt" and len(meta["tiles"]) == n
    assert meta["tiles"][0].startswith("\u201ca photo of a purple ellipse.\u201d")
    w.layout_actions["poolings"].trigger()
    idle(qtbot, w)
    w.exports.export_map(str(out))
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
    w.exports.export_map(str(out))
    qtbot.waitUntil(lambda: sorted(p.suffix for p in out.glob("[!.]*")) == [".json", ".npy", ".png"],
                    timeout=WAIT_MS)
    sidecar = json.loads(next(out.glob("*.json")).read_text())
    assert sidecar["method"] == "surgery" and sidecar["ensemble"] is True
    assert sidecar["surgery_empty_text"] == "ensemble" and sidecar["activation"] == "gelu"
