"""Render the window's layouts offscreen to PNGs (for docs/GUI.md and for looking at changes).

    python packaging/scripts/screenshots.py [--out docs/screenshots] [--model ARCH --pretrained W]

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

ROOT = Path(__file__).resolve().parents[2]
SHOTS = [("side", "side_by_side.png"), ("poolings", "pooling_grid.png"), ("prompts", "prompt_grid.png"),
         ("methods", "method_grid.png")]


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
    from eclip_desktop.app.state import ModelChoice
    from eclip_desktop.core.model.family import FAMILY, family_available

    app = QApplication.instance() or QApplication(sys.argv[:1])
    if args.model:
        model = ModelChoice(args.model, args.pretrained, "cpu")
    elif family_available():
        model = ModelChoice(FAMILY, None, "cpu")
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
        return (not w.compute.is_busy() and not w.io.is_busy() and not w._debounce.isActive()
                and w.model is not None and bool(w.maps))

    if not wait(app, settled):
        print(f"no maps after 60 s: {w.banner.text() or w.status.job_label.text()}", file=sys.stderr)
        w.close()
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for layout, name in SHOTS:
        w.set_layout(layout)
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
    w.close()
    return 0


def wordnet_shot(app, w, target: Path, settled) -> bool:
    """The WordNet dock in front, browsing dog.n.01 (two hypernym paths) with a search listed."""
    w.set_layout("side")
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
