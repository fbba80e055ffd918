"""How fast a cancel lands and a window closes during a job (a benchmark, not a test).

    python scripts/bench_cancel.py [--runs 5]

Offscreen, tiny random model. For each run: a compute job that sleeps in 50 ms slices (as the core's
long loops check for cancellation between batches) is started, the status bar's Cancel is pressed,
and the time until the worker is idle again is taken; then the same job is started and the window is
closed, and the time `close()` takes is taken. Prints each run and the median. The tests assert only
that a cancel or a close stops the job (tests/test_app.py); these times are load-dependent.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_ui_stall import wait  # noqa: E402 - the same event-loop wait as the stall benchmark


def slow(ctx):
    for _ in range(600):  # 30 s unless cancelled
        ctx.sleep(0.05)


def one_run(app, scratch: str, i: int) -> tuple[float, float]:
    from PySide6.QtCore import QSettings

    from eclip_desktop.app.main_window import MainWindow
    from eclip_desktop.app.settings import AppSettings
    from eclip_desktop.app.workers.jobs import Job
    from eclip_desktop.core.model.spec import ModelSpec

    settings = AppSettings(QSettings(os.path.join(scratch, f"s{i}.ini"), QSettings.IniFormat))
    w = MainWindow(model=ModelSpec("eclip-tiny-vit", "random", "cpu"), settings=settings, restore_geometry=False)
    w.show()
    wait(app, lambda: w.views.side.map.has_map() and not w.compute.is_busy() and not w.io.is_busy())
    w.compute.submit(Job("slow", slow, label="slow job"))
    wait(app, lambda: w.status.cancel_button.isVisible())
    t0 = time.perf_counter()
    w.status.cancel_button.click()
    wait(app, lambda: not w.compute.is_busy())
    cancel = time.perf_counter() - t0
    w.compute.submit(Job("slow", slow, label="slow job"))
    wait(app, lambda: w.compute.is_busy())
    t0 = time.perf_counter()
    w.close()
    return cancel, time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance() or QApplication(sys.argv[:1])
    cancels, closes = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(args.runs):
            c, q = one_run(app, scratch, i)
            cancels.append(c)
            closes.append(q)
            print(f"run {i + 1}: cancel {c * 1000:.0f} ms, close during a job {q * 1000:.0f} ms", flush=True)
    print(f"median: cancel {statistics.median(cancels) * 1000:.0f} ms, close {statistics.median(closes) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
