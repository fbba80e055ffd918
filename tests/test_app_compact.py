"""The window on a small screen (1000x700): one-line banners leave the map its height; image names
keep what tells them apart (the extension, both ends of the stem) and the full path in the tooltip."""
import os

from conftest import write_image
from PySide6.QtCore import QPoint, QRect, Qt
from test_app import make_window, no_dangling_threads_or_timers, settings, wait_for_map  # noqa: F401

from eclip_desktop.app.widgets.banner import MessageBanner
from eclip_desktop.app.widgets.image_list import ImageList

CORRUPT = ("{} is not an image file this tool reads (PNG, JPEG, TIFF, WebP, BMP, GIF or PPM)")
DOMAIN = ("The embedded models were trained only on Shapes World scenes (coloured shapes on plain or textured "
          "backgrounds), so their scores and maps of \u201cchelsea.png\u201d say little about it. For photographs, "
          "load an open_clip model or a checkpoint of your own.")


def _painted(banner, button) -> bool:
    """Whether the banner's picture shows something where the button is (not just its background):
    a button moved into a window whose updates were paused stayed blank though "visible"."""
    image = banner.grab(QRect(button.mapTo(banner, QPoint(0, 0)), button.size())).toImage()
    colours = {image.pixel(x, y) for x in range(0, image.width(), 2) for y in range(0, image.height(), 2)}
    return len(colours) > 3


def _small_window_with_two_banners(qtbot, make_window, tmp_path):
    w = make_window()
    wait_for_map(qtbot, w)
    photo = write_image(tmp_path / "chelsea.png", 320, 240)
    w.files.open_paths([photo])
    w.image_list.select(photo)
    wait_for_map(qtbot, w)
    w.resize(1000, 700)
    w.banner.show_message(CORRUPT.format(tmp_path / "corrupt.png"), "error", "files")
    w.domain_banner.show_message(DOMAIN, "info", photo, "load-openclip", "Load an open_clip model",
                                 "open-checkpoint", "Open checkpoint\u2026")
    qtbot.wait(200)  # the main window spreads the new size
    return w


def test_two_banners_leave_the_map_its_height_at_1000x700(qtbot, make_window, tmp_path):
    w = _small_window_with_two_banners(qtbot, make_window, tmp_path)
    line = w.banner.fontMetrics().height()
    for banner in (w.banner, w.domain_banner):
        assert banner.isVisible() and banner.height() <= 2 * line + 12, banner.height()
        assert banner.label.toolTip() == banner.text()  # the whole message is one hover away
        assert banner.shown_text().endswith("\u2026")  # elided, not wrapped
    # Two wrapped banners took ~210 of the 700 px and left the map 137 px.
    assert w.views.side.glw.height() >= 250, w.views.side.glw.height()


def test_more_unfolds_a_banner_and_shows_its_actions(qtbot, make_window, tmp_path):
    w = _small_window_with_two_banners(qtbot, make_window, tmp_path)
    banner = w.domain_banner
    folded = banner.height()
    assert banner.more.isVisible()
    qtbot.mouseClick(banner.more, Qt.LeftButton)
    qtbot.wait(50)
    assert banner.shown_text() == DOMAIN and banner.height() > folded
    assert banner.button.isVisible() and banner.button2.isVisible()
    assert _painted(banner, banner.button) and _painted(banner, banner.button2)
    actions = []
    banner.action_triggered.connect(actions.append)
    qtbot.mouseClick(banner.button, Qt.LeftButton)
    assert actions == ["load-openclip"]
    qtbot.mouseClick(banner.more, Qt.LeftButton)
    qtbot.wait(50)
    assert banner.height() == folded and banner.shown_text().endswith("\u2026")


def test_a_short_message_has_no_more_button_and_keeps_its_action_beside_it(qtbot):
    banner = MessageBanner()
    qtbot.addWidget(banner)
    banner.resize(900, 40)
    banner.show_message("No image files found there.", "warning", "files", "choose", "Choose\u2026")
    banner.show()
    qtbot.wait(20)
    assert banner.shown_text() == "No image files found there."
    assert not banner.more.isVisible() and banner.button.isVisible()
    qtbot.mouseClick(banner.close_button, Qt.LeftButton)
    assert not banner.isVisible() and banner.text() == ""


def test_image_names_keep_their_extension_and_both_ends(qtbot, make_window, tmp_path):
    w = make_window()
    wait_for_map(qtbot, w)
    paths = [write_image(tmp_path / "chelsea_the_cat_on_the_sofa.png", seed=1),
             write_image(tmp_path / "corrupt_download_of_the_sofa.png", seed=2)]
    w.files.open_paths(paths)
    w.resize(1000, 700)
    qtbot.wait(200)
    rows = [w.image_list.row_of(p) for p in paths]
    shown = [w.image_list.shown_name(r) for r in rows]
    assert shown[0] != shown[1], shown
    for path, row, name in zip(paths, rows, shown):
        assert name.endswith(".png") and name[0] == os.path.basename(path)[0], name
        assert w.image_list.item(row).toolTip() == path


def test_elide_name_shortens_the_stem_in_its_middle(qtbot):
    from eclip_desktop.app.widgets.image_list import elide_name
    images = ImageList()
    qtbot.addWidget(images)
    metrics = images.fontMetrics()
    name = "chelsea_sitting_on_a_sofa.png"
    assert elide_name(name, metrics, 10_000) == name
    short = elide_name(name, metrics, metrics.horizontalAdvance("chelsea.png"))
    assert short.startswith("ch") and short.endswith("sofa.png"[-6:]) and "\u2026" in short
    assert metrics.horizontalAdvance(short) <= metrics.horizontalAdvance("chelsea.png")
