"""The window tells the truth (issue 14): reading guide, overlay modes, hatched threshold side,
out-of-domain notice, failed loads, Help, shortcuts and a small screen. Offscreen, tiny models."""
import numpy as np
from conftest import write_image
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from test_app import (  # noqa: F401
    TINY,
    idle,
    make_window,
    no_dangling_threads_or_timers,
    settings,
    wait_for_map,
)

from eclip_desktop.app import geometry
from eclip_desktop.core.figures.render import overlay
from eclip_desktop.core.model.family import FAMILY, family_available
from eclip_desktop.core.model.shift import family_shift
from eclip_desktop.core.shapes.domain import is_shapes_world_image
from eclip_desktop.viewer.guide import shift_sentence
from eclip_desktop.viewer.state import DisplayState, ModelChoice


def test_guide_says_what_bright_means_with_the_raw_range(qtbot, make_window):
    w = make_window()
    wait_for_map(qtbot, w)
    ms = w.maps[(w.analysis.method, w.analysis.pooling)]
    hm = ms.heatmaps[w.analysis.shown_index()]
    text = w.guide.text()
    assert "Bright" in text and hm.text in text
    assert f"{hm.raw_range[1]:.3f}" in text and f"{hm.raw_range[0]:.3f}" in text
    # One model: the guide says the pooling does not change its map.
    assert "same under every pooling" in text
    # A threshold adds which side is above.
    w.display_bar.threshold.setCurrentIndex(w.display_bar.threshold.findData("otsu"))
    assert "hatched" in w.guide.text()
    assert w.views.side.map.hatch_visible() and w.views.side.map.outline_visible()
    # The guide can be hidden (View menu), e.g. on a small screen.
    w.act_guide.trigger()
    assert not w.guide.isVisible()


def test_shifted_pooling_is_read_from_the_family_cards(tmp_path, monkeypatch):
    if not family_available():
        return
    summary = family_shift(FAMILY)
    worst = summary.shifted[0]
    text = shift_sentence(ModelChoice(FAMILY))
    assert "shifted pooling" in text and f"{worst.bg_preferred:.0%}" in text
    # Derived, not hard-coded: a family whose cards measure no shift says so.
    import eclip_desktop.viewer.guide as guide
    from eclip_desktop.core.model.shift import PoolingEvidence, ShiftSummary
    guide.measured_shift.cache_clear()
    monkeypatch.setattr(guide, "measured_shift", lambda _a: ShiftSummary((PoolingEvidence("avg", 5.0, 0.1),
                                                                  PoolingEvidence("max", 9.0, 0.05))))
    calm = shift_sentence(ModelChoice(FAMILY))
    assert "none of this family" in calm and "max" in calm


def test_overlay_modes_in_window_and_figure(qtbot, make_window):
    rgb = np.full((4, 4, 3), 200, np.uint8)
    values = np.zeros((4, 4), np.float32)
    values[0, 0] = 1.0
    alpha = overlay(rgb, values, cmap="viridis", alpha=0.6, mode="alpha")
    blend = overlay(rgb, values, cmap="viridis", alpha=0.6, mode="blend")
    alone = overlay(rgb, values, cmap="viridis", alpha=0.6, mode="heatmap")
    assert (alpha[1:, 1:] == 200).all() and not (blend[1:, 1:] == 200).all()  # low values leave the image
    assert not (alone == 200).any()  # the map alone hides the image
    w = make_window()
    wait_for_map(qtbot, w)
    canvas = w.views.side.map
    w.display_bar.overlay.setCurrentIndex(w.display_bar.overlay.findData("heatmap"))
    assert w.display.overlay == "heatmap" and not canvas.base.isVisible()
    w.display_bar.overlay.setCurrentIndex(w.display_bar.overlay.findData("alpha"))
    assert canvas.base.isVisible() and canvas.heat.lut.shape[1] == 4  # alpha rides on the colour table
    assert DisplayState.from_dict({"overlay": "nonsense"}).overlay == "blend"
    # O hides the map over the image and shows it again; nothing is recomputed.
    w.act_toggle_map.trigger()
    assert not canvas.heat.isVisible()
    w.act_toggle_map.trigger()
    assert canvas.heat.isVisible()


def test_out_of_domain_notice_for_embedded_models(qtbot, make_window, tmp_path):
    photo = write_image(tmp_path / "holiday.png")
    assert not is_shapes_world_image(photo)
    w = make_window(images=[photo])
    idle(qtbot, w)
    assert not w.domain_banner.isVisible()  # an open_clip model: no notice
    if not family_available():
        return
    w.models.request_model(ModelChoice(FAMILY, None, "cpu"))
    qtbot.waitUntil(lambda: w.domain_banner.isVisible(), timeout=60_000)
    assert "Shapes World" in w.domain_banner.text() and "holiday.png" in w.domain_banner.text()
    assert w.domain_banner.button.text() == "Load an open_clip model"
    assert "checkpoint" in w.domain_banner.button2.text()
    # An error in the other banner does not replace it: it stays while the mismatch does.
    w.banner.show_message("something else", "error", "x")
    assert w.domain_banner.isVisible()
    # The bundled sample is a Shapes World scene: no notice there.
    w.files.open_sample()
    qtbot.waitUntil(lambda: not w.domain_banner.isVisible(), timeout=20_000)
    idle(qtbot, w, timeout=60_000)
    # A file that is no image gets its error, not advice about which model to load.
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"this is not a png")
    w.files.open_paths([str(broken)])
    qtbot.waitUntil(lambda: "broken.png" in w.banner.text(), timeout=20_000)
    idle(qtbot, w, timeout=60_000)
    assert not w.domain_banner.isVisible()



def test_notice_leaves_when_the_picture_turns_out_unreadable(qtbot, make_window, tmp_path):
    """Whichever report comes last (the thumbnail reader or the map job), an unreadable file ends the
    notice: it was shown while the file was still thought to be a picture."""
    if not family_available():
        return
    first, second = write_image(tmp_path / "a.png"), write_image(tmp_path / "b.png")
    w = make_window(images=[first, second])
    idle(qtbot, w)
    w.models.request_model(ModelChoice(FAMILY, None, "cpu"))
    qtbot.waitUntil(lambda: w.domain_banner.isVisible(), timeout=60_000)
    idle(qtbot, w, timeout=60_000)
    w.files.thumbnail_ready(first, None, "a.png is not an image")  # the reader's verdict arrives late
    assert not w.domain_banner.isVisible()
    w.image_list.step(1)
    qtbot.waitUntil(lambda: w.domain_banner.isVisible(), timeout=20_000)
    idle(qtbot, w, timeout=60_000)
    w.image_view = None  # as when the map job fails before the picture is shown
    w.maps_area.maps_failed("b.png is not an image")
    assert not w.domain_banner.isVisible()

def test_failed_load_restores_the_previous_model(qtbot, make_window):
    w = make_window()
    wait_for_map(qtbot, w)
    before = w.model
    w.models.request_model(ModelChoice("no-such-architecture", "random", "cpu"))
    assert w.controls.picker.pending.isVisibleTo(w.controls.picker)  # pending, unmistakably
    qtbot.waitUntil(lambda: "Could not load" in w.banner.text(), timeout=20_000)
    assert w.model == before and w.controls.picker.architecture() == before.architecture
    assert not w.controls.picker.pending.isVisibleTo(w.controls.picker)
    assert "stays loaded" in w.banner.text() and w.banner.button.text().startswith("Open checkpoint")


def test_help_shortcuts_about(qtbot, make_window):
    w = make_window()
    rows = dict(w.help.shortcut_rows())
    assert "F1" in rows["Keyboard Shortcuts"] and "Alt+1" in rows["native"]
    w.act_shortcuts.trigger()  # F1, as the menu does
    sheet = w.help.dialogs["Keyboard Shortcuts"]
    assert sheet.isVisible()
    assert "Alt+1" in sheet.browser.toPlainText() and "text box" in sheet.browser.toPlainText()
    w.act_about.trigger()
    about = w.help.dialogs["About eclip-desktop"].browser.toPlainText()
    assert all(k in about for k in ("eclip-desktop", "torch", "open_clip", "Qt", "Device"))
    w.act_reading.trigger()
    reading = w.help.dialogs["How to Read These Maps"]
    assert "semantic shift" in reading.browser.toPlainText()
    for d in w.help.dialogs.values():
        d.close()


def test_alt_digit_sets_pooling_while_typing(qtbot, make_window):
    w = make_window()
    wait_for_map(qtbot, w)
    w.controls.prompts.setFocus()
    qtbot.waitUntil(lambda: w.controls.prompts.hasFocus(), timeout=2_000)
    before = w.controls.prompts.toPlainText()
    qtbot.keyClick(w.controls.prompts, Qt.Key_2, Qt.AltModifier)
    assert w.analysis.pooling == "avg"
    assert w.controls.prompts.toPlainText() == before  # the text box did not swallow it
    assert QKeySequence("Alt+2") in w.pooling_actions["avg"].shortcuts()
    idle(qtbot, w)


def test_remove_image_from_list(qtbot, make_window, tmp_path):
    a, b = write_image(tmp_path / "a.png"), write_image(tmp_path / "b.png", seed=1)
    w = make_window(images=[a, b])
    idle(qtbot, w)
    w.image_list.select(a)
    w.act_remove.trigger()
    assert [p.endswith("b.png") for p in w.image_list.paths()] == [True]
    w.act_remove.trigger()
    assert w.image_list.count() == 0
    idle(qtbot, w)


def test_usable_at_1000_by_700_and_capped_by_the_screen(qtbot, make_window, monkeypatch):
    from PySide6.QtCore import QSize
    w = make_window()
    wait_for_map(qtbot, w)
    for layout in ("side", "poolings", "prompts", "methods"):
        w.layout_actions[layout].trigger()
        idle(qtbot, w)
        assert w.minimumSizeHint().width() <= 1000, layout
    w.resize(1000, 700)
    # The docks shrink to their small widths, so the maps keep most of a small window.
    qtbot.waitUntil(lambda: w.width() == 1000 and w.images_dock.width() <= 130
                    and w.centralWidget().width() > 500, timeout=5_000)
    w.act_panels.trigger()
    assert not w.images_dock.isVisible() and not w.controls_dock.isVisible()
    w.act_panels.trigger()
    assert w.images_dock.isVisible() and w.controls_dock.isVisible()
    # Whatever asks for more room later, the window stays within the screen it is on.
    monkeypatch.setattr(geometry, "screen_room", lambda _w: QSize(1100, 760))
    w.resize(1700, 1000)
    geometry.fit_to_screen(w)
    assert w.width() <= 1100 and w.height() <= 760 and w.maximumWidth() == 1100
    w.setMaximumSize(16777215, 16777215)


def test_picker_groups_hides_configs_and_loads_on_choice(qtbot):
    from eclip_desktop.app.widgets.model_picker import ModelPicker
    from eclip_desktop.viewer.jobs.catalogue import Catalogue
    picker = ModelPicker()
    qtbot.addWidget(picker)
    picker.set_catalogue(Catalogue(["RN50", "ViT-B-16", "eclip-tiny-vit"],
                                   {"RN50": [("openai", True), ("yfcc15m", False)], "ViT-B-16": [("openai", False)]}))
    texts = [picker.arch.itemText(i) for i in range(picker.arch.count())]
    at = {t: i for i, t in enumerate(texts)}
    assert at["\u2014 Downloaded weights \u2014"] < at["RN50"] < at["\u2014 Needs a download \u2014"] < at["ViT-B-16"]
    assert "eclip-tiny-vit" not in picker.entries()  # a weightless training config, hidden
    picker.show_configs.setChecked(True)
    assert "eclip-tiny-vit" in picker.entries()
    # Headers cannot be chosen; choosing a model loads it at once.
    loads = []
    picker.load_requested.connect(loads.append)
    picker.arch.activated.emit(at["\u2014 Downloaded weights \u2014"])
    assert loads == []
    picker.arch.setCurrentIndex(picker.arch.findText("RN50"))
    picker.arch.activated.emit(picker.arch.currentIndex())
    assert loads == [ModelChoice("RN50", "openai")]  # the cached weights first
    # A model in use that no group lists is still named (e.g. from the command line).
    picker.set_choice(ModelChoice("eclip-tiny-rn", "random"))
    assert picker.choice() == ModelChoice("eclip-tiny-rn", "random")


def test_window_opens_without_torch_or_open_clip():
    """The window's modules import neither torch nor open_clip: those take seconds, and the window
    must be up (with the sample) before them. Checked in a fresh interpreter."""
    import subprocess
    import sys
    code = ("import sys; sys.modules['torch'] = None; sys.modules['open_clip'] = None; "
            "import eclip_desktop.app.main_window, eclip_desktop.app.main")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stderr[-2000:]


def test_prompt_template_article():
    from eclip_desktop.app.wordnet.dock import PROMPT_TEMPLATE, fill_template
    assert fill_template(PROMPT_TEMPLATE, "attribute") == "a photo of an attribute."
    assert fill_template(PROMPT_TEMPLATE, "dog") == "a photo of a dog."
    assert fill_template("A {lemma} on a table", "apple") == "An apple on a table"
    assert fill_template("photo of", "owl") == "photo of owl"


def test_esc_gives_plain_keys_back_and_difference_tile(qtbot, make_window):
    w = make_window()
    wait_for_map(qtbot, w)
    w.controls.prompts.setFocus()
    qtbot.waitUntil(lambda: w.controls.prompts.hasFocus(), timeout=2_000)
    qtbot.keyClick(w.controls.prompts, Qt.Key_Escape)
    assert not w.controls.prompts.hasFocus()
    qtbot.keyClick(w.focusWidget() or w, Qt.Key_2)
    assert w.analysis.pooling == "avg"
    # D adds a difference tile to the pooling grid: two poolings' maps (here a single model's
    # contribution maps), 0.5 where they agree.
    w.layout_actions["poolings"].trigger()
    idle(qtbot, w)
    n = len(w.views.grid.contents())
    w.act_difference.trigger()
    tiles = w.views.grid.contents()
    assert len(tiles) == n + 1 and tiles[-1].title.startswith("difference: avg")
    assert tiles[-1].full is not None and 0.0 <= float(tiles[-1].full.min()) <= float(tiles[-1].full.max()) <= 1.0
    w.act_difference.trigger()
    assert len(w.views.grid.contents()) == n


def test_ground_truth_mask_gives_live_contrast_and_pointing(qtbot, make_window, tmp_path):
    from PIL import Image

    from eclip_desktop.core.evaluation.metrics import score_contrast
    photo = write_image(tmp_path / "scene.png", 96, 72)
    mask = np.zeros((36, 48), np.uint8)  # half size: resized to the image (nearest)
    mask[8:24, 10:30] = 1
    Image.fromarray(mask * 255).save(tmp_path / "scene_mask.png")
    w = make_window(images=[photo])
    wait_for_map(qtbot, w)
    w.ground_truth.load(str(tmp_path / "scene_mask.png"))
    qtbot.waitUntil(lambda: "ground truth: SC" in w.views.side.caption.text(), timeout=20_000)
    gt = w.ground_truth.current()
    assert gt.shape == (72, 96) and gt.sum() == 16 * 2 * 20 * 2
    hm = w.maps[(w.analysis.method, w.analysis.pooling)].heatmaps[0]
    assert f"SC {100 * score_contrast(hm.values, gt):+.1f} %" in w.views.side.caption.text()
    assert not w.views.side.map.gt_outline.path().isEmpty() and not w.views.side.image.gt_outline.path().isEmpty()
    w.layout_actions["poolings"].trigger()
    idle(qtbot, w)
    assert all("ground truth" in t.caption for t in w.views.grid.contents())
    w.layout_actions["side"].trigger()
    w.ground_truth.clear()
    assert "ground truth" not in w.views.side.caption.text() and w.views.side.map.gt_outline.path().isEmpty()
    # A mask that marks nothing is refused with a message.
    Image.fromarray(np.zeros((72, 96), np.uint8)).save(tmp_path / "empty.png")
    w.ground_truth.load(str(tmp_path / "empty.png"))
    qtbot.waitUntil(lambda: "marks no pixel" in w.banner.text(), timeout=20_000)
    idle(qtbot, w)


def test_histogram_of_the_shown_map(qtbot, make_window):
    w = make_window()
    wait_for_map(qtbot, w)
    hist = w.views.side.histogram
    assert not hist.isVisible()
    w.act_histogram.trigger()
    assert hist.isVisible() and abs(float(hist.counts.sum()) - 1.0) < 1e-6
    w.display_bar.threshold.setCurrentIndex(w.display_bar.threshold.findData("otsu"))
    from eclip_desktop.viewer.display import threshold_level
    assert hist.threshold_line.isVisible()
    assert abs(hist.threshold_line.value() - threshold_level(w.views.side.map.preview, w.display)) < 1e-9
    w.display_bar.percentile.setCurrentIndex(w.display_bar.percentile.findData(95.0))
    assert hist.level_lines[0].isVisible() and hist.level_lines[0].value() < hist.level_lines[1].value()


def test_cancel_while_the_first_model_loads(qtbot, make_window):
    w = make_window()
    qtbot.waitUntil(lambda: w.compute.is_busy(), timeout=5_000)
    w.act_cancel.trigger()
    # Either the load finished first or it was cancelled; the picker is never left pending, and its
    # open_clip list still arrives.
    qtbot.waitUntil(lambda: w.controls.picker.catalogue is not None and not w.compute.is_busy(), timeout=60_000)
    assert not w.controls.picker.pending.isVisibleTo(w.controls.picker)
    assert w.model is not None or "no model loaded" in w.views.side.map.note.toPlainText()


def test_swipe_compare(qtbot, make_window):
    w = make_window()
    wait_for_map(qtbot, w)
    canvas = w.views.side.map
    cols = canvas.preview.shape[1]
    w.act_swipe.trigger()
    assert 0 < canvas.heat.image.shape[1] < cols  # half the map, the photo on the right
    w.views.side.swipe_line.setValue(canvas.size[0] * 0.25)
    assert abs(canvas.heat.image.shape[1] - round(cols * 0.25)) <= 1
    w.pooling_actions["avg"].trigger()  # a new map keeps the swipe
    wait_for_map(qtbot, w)
    assert canvas.heat.image.shape[1] < cols
    w.act_swipe.trigger()
    assert canvas.heat.image.shape[1] == cols and w.views.side.swipe_line is None
