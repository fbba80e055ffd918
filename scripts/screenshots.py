"""Render the window's layouts offscreen to PNGs (for docs/GUI.md and for looking at changes).

    python scripts/screenshots.py [--out docs/screenshots] [--model ARCH --pretrained W]

Uses the embedded family when it is installed, else the tiny random model (its maps mean
nothing; the window says so in the model picker). User settings are not touched.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SHOTS = [("first", "first_screen.png"), ("side", "side_by_side.png"), ("poolings", "pooling_grid.png"),
         ("prompts", "prompt_grid.png"), ("methods", "method_grid.png")]


def wait(app, done, timeout: float = 60.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if done():
            for _ in range(5):  # let layouts and repaints settle after the last result
                app.processEvents()
                time.sleep(0.02)
            return True
        time.sleep(0.01)
    return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--model", default=None, help="architecture (default: embedded family, else eclip-tiny-vit)")
    parser.add_argument("--pretrained", default=None)
    parser.add_argument("--size", default="1440x900", help="window size WxH")
    parser.add_argument("--threshold", default="otsu", help="threshold shown in the side-by-side shot")
    args = parser.parse_args(argv)

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from eclip_desktop.app.main_window import MainWindow
    from eclip_desktop.app.settings import AppSettings
    from eclip_desktop.core.model.family import family_available
    from eclip_desktop.viewer.state import ModelChoice

    app = QApplication.instance() or QApplication(sys.argv[:1])
    if args.model:
        model = ModelChoice(args.model, args.pretrained, "cpu")
    elif family_available():
        model = "auto"  # as a first launch opens: the embedded family's masked-max model
    else:
        model = ModelChoice("eclip-tiny-vit", "random", "cpu")
        print("no embedded family installed: using eclip-tiny-vit with random weights", file=sys.stderr)
    scratch = tempfile.mkdtemp(prefix="eclip-shots-")
    settings = AppSettings(QSettings(os.path.join(scratch, "settings.ini"), QSettings.IniFormat))
    w = MainWindow(model=model, settings=settings, restore_geometry=False)
    width, height = (int(v) for v in args.size.lower().split("x"))
    w.resize(width, height)
    w.show()

    def settled():
        return (not w.compute.is_busy() and not w.io.is_busy() and not w.map_controller.waiting()
                and w.model is not None and bool(w.maps))

    if not wait(app, settled):
        print(f"no maps after 60 s: {w.banner.text() or w.status.job_label.text()}", file=sys.stderr)
        w.close()
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for layout, name in SHOTS:
        # "first": the window as it opens (a first launch opens on the pooling grid), nothing touched.
        if layout != "first":
            w.layout_actions[layout].trigger()
        bar = w.display_bar
        bar.threshold.setCurrentIndex(bar.threshold.findData(args.threshold if layout == "side" else "none"))
        wait(app, settled)
        target = out / name
        if not w.grab().save(str(target)):
            print(f"could not write {target}", file=sys.stderr)
            w.close()
            return 1
        print(f"wrote {target}")
    if not wordnet_shot(app, w, out / "wordnet.png", settled):
        print("no WordNet screenshot: " + (w.wordnet_dock.broken or "the dock did not settle"), file=sys.stderr)
    help_shots(app, w, out)
    if not compare_shot(app, w, out / "compare_models.png", settled):
        print("no model comparison screenshot: " + (w.banner.text() or "it did not settle"), file=sys.stderr)
    small_shot(app, w, out / "small_1000x700.png", settled)
    if w.model is not None and w.model.family:
        domain_shot(app, w, out / "out_of_domain.png", settled, scratch)
    w.close()
    return 0


def _save(widget, target: Path) -> bool:
    ok = widget.grab().save(str(target))
    print(f"wrote {target}" if ok else f"could not write {target}", file=sys.stdout if ok else sys.stderr)
    return ok


def help_shots(app, w, out: Path) -> None:
    """Help ▸ Keyboard Shortcuts, Help ▸ How to Read These Maps and Help ▸ About."""
    for show, name in ((w.help.show_shortcuts, "help_shortcuts.png"), (w.help.show_reading_help, "help_reading.png"),
                       (w.help.show_about, "help_about.png")):
        dialog = show()
        wait(app, lambda: True)
        _save(dialog, out / name)
        dialog.close()


def compare_shot(app, w, target: Path, settled) -> bool:
    """The model comparison, its picker under Controls: the ViTs trained from scratch (else another
    embedded family, else the tiny ResNet) beside the first model."""
    from eclip_desktop.core.model.family import embedded_families
    from eclip_desktop.viewer.state import ModelChoice
    others = sorted((f for f in embedded_families() if w.model is None or f != w.model.architecture),
                    key=lambda f: f != "eclip-shapes-vit")
    second = ModelChoice(others[0], None, "cpu") if others else ModelChoice("eclip-tiny-rn", "random", "cpu")
    w.comparison.choose()
    w.comparison.request_model(second)
    ok = wait(app, lambda: settled() and w.comparison.model is not None
              and all(t.preview is not None for t in w.views.grid.contents()))
    return ok and _save(w, target)


def small_shot(app, w, target: Path, settled) -> None:
    """The window at 1000x700 (a small laptop screen): side by side, then the pooling grid."""
    w.convis.leave_convis()
    w.controls_dock.raise_()
    w.layout_actions["side"].trigger()
    # the docks narrow at 1000 px; the later shots get their usual widths back
    from PySide6.QtCore import Qt
    docks, widths = [w.images_dock, w.controls_dock], [w.images_dock.width(), w.controls_dock.width()]
    w.resize(1000, 700)
    wait(app, settled)
    _save(w, target)
    w.layout_actions["poolings"].trigger()
    wait(app, settled)
    _save(w, target.with_name(target.stem + "_grid.png"))
    w.layout_actions["side"].trigger()
    w.resize(1440, 900)
    w.resizeDocks(docks, widths, Qt.Horizontal)


def domain_shot(app, w, target: Path, settled, scratch: str) -> None:
    """An embedded Shapes World model on a picture that is not a scene: the notice above the views."""
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:240, 0:320]
    # Smooth sky-to-ground light with texture and a warm blob: nothing like a Shapes World scene.
    rgb = np.stack([90 + 0.4 * y, 120 + 0.2 * x, 200 - 0.5 * y], -1) + rng.normal(0, 18, (240, 320, 3))
    rgb[(x - 200) ** 2 + (y - 150) ** 2 < 45 ** 2] = (210, 120, 60)
    photo = Path(scratch) / "holiday_photo.png"
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(photo)
    w.resize(1440, 900)
    w.files.open_paths([str(photo)])
    w.image_list.select(str(photo))
    wait(app, lambda: settled() and w.domain_banner.isVisible())
    _save(w, target)


def wordnet_shot(app, w, target: Path, settled) -> bool:
    """The WordNet dock in front, browsing dog.n.01 (two hypernym paths) with a search listed."""
    w.layout_actions["side"].trigger()
    w.display_bar.threshold.setCurrentIndex(w.display_bar.threshold.findData("none"))
    dock = w.wordnet_dock
    dock.raise_()
    if not wait(app, lambda: dock.info is not None or bool(dock.broken)) or dock.broken:
        return False
    dock.search.setText("dog")
    dock.search_now()
    dock.navigate("dog.n.01")
    if not wait(app, lambda: not dock.is_busy() and dock.info.name == "dog.n.01" and settled()):
        return False
    wait(app, lambda: not dock.is_busy())
    ok = w.grab().save(str(target))
    if ok:
        print(f"wrote {target}")
    return ok


if __name__ == "__main__":
    raise SystemExit(main())
