"""What a pooling key press costs in the window (a benchmark, not a test).

    python scripts/bench_key_press.py [--presses 40]

The embedded family on the bundled sample, side-by-side layout. First every pooling's map is
computed once (each pooling is its own model); then the keys 1..4 are pressed in turn, each press
delivered as a real key event to the window. Per press: the time of the key's handler with its
render on the UI thread, the time until the window is settled and painted, how many scenes were drawn and how many jobs
were sent to the worker (the maps are cached, so the target is one render and no job).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def wait(app, done, timeout=180.0) -> None:
    end = time.monotonic() + timeout
    while not done():
        if time.monotonic() > end:
            raise SystemExit("timed out")
        app.processEvents()
        time.sleep(0.002)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presses", type=int, default=40)
    args = p.parse_args()
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from eclip_desktop.app.main_window import MainWindow
    from eclip_desktop.app.settings import AppSettings
    from eclip_desktop.core.model.family import FAMILY
    from eclip_desktop.core.model.poolings import pooling_names
    from eclip_desktop.viewer.state import ModelChoice

    app = QApplication.instance() or QApplication(sys.argv[:1])
    scratch = tempfile.mkdtemp()
    settings = AppSettings(QSettings(os.path.join(scratch, "s.ini"), QSettings.IniFormat))
    w = MainWindow(model=ModelChoice(FAMILY, None, "cpu"), settings=settings, restore_geometry=False)
    w.show()
    names = pooling_names()
    poolings = w.model.poolings() if w.model else ModelChoice(FAMILY).poolings()
    wait(app, lambda: w.model is not None and w.settled() and w.maps)
    for p_ in poolings:  # every pooling's map once
        w.pooling_actions[p_].trigger()
        wait(app, lambda p_=p_: (w.analysis.method, p_) in w.maps and w.settled())
    times, settled, renders, jobs = [], [], [], []
    for i in range(args.presses):
        key = Qt.Key_1 + names.index(poolings[i % len(poolings)])
        r0, j0 = w.maps_area.renders, w.compute.submitted
        t0 = time.perf_counter()
        QTest.keyClick(w.views, key)
        times.append(time.perf_counter() - t0)
        wait(app, w.settled)
        app.processEvents()  # the paint events the render queued
        settled.append(time.perf_counter() - t0)
        renders.append(w.maps_area.renders - r0)
        jobs.append(w.compute.submitted - j0)
    w.close()
    out = {"presses": len(times), "median_ms": round(1000 * statistics.median(times), 1),
           "p90_ms": round(1000 * sorted(times)[int(0.9 * (len(times) - 1))], 1),
           "until_drawn_median_ms": round(1000 * statistics.median(settled), 1),
           "renders_per_press": sorted(set(renders)), "jobs_per_press": sorted(set(jobs)),
           "cpus": os.cpu_count(), "load": round(os.getloadavg()[0], 1)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
