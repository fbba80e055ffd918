"""Start-up and quit of the window, measured side by side with `python -c "import torch, open_clip"`.

    python scripts/bench_startup.py [--runs 3] [--platform offscreen|xcb]

Each run is a fresh interpreter, timed from the moment the parent spawns it:
  import       python -c "import torch, open_clip" — the floor any first heatmap stands on
  window       the main window is shown with the bundled sample drawn in it (and whether torch or
               open_clip were imported by then: they must not be)
  first map    the first heatmap is on screen (embedded family, masked max)
  quit         Quit (Ctrl+Q) with the map shown: until the window is gone, and until the process exits
Prints one JSON line per run and the medians. User settings are not touched (a scratch QSettings).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(t0: float) -> None:
    """Runs in the spawned interpreter: open the window as `eclip-desktop` does and time it."""
    import tempfile

    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from eclip_desktop.app.main_window import MainWindow
    from eclip_desktop.app.settings import AppSettings

    app = QApplication(sys.argv[:1])
    scratch = tempfile.mkdtemp(prefix="eclip-bench-")
    settings = AppSettings(QSettings(os.path.join(scratch, "s.ini"), QSettings.IniFormat))
    w = MainWindow(model="auto", settings=settings, restore_geometry=False)
    w.show()
    out = {"window_constructed": time.time() - t0}

    def poll() -> None:
        now = time.time() - t0
        drawn = w.views.side.image.size is not None or bool(w.views.grid.contents())
        if "window" not in out and w.isVisible() and drawn:
            out["window"] = now
            # The worker starts importing torch at once (for the model); open_clip follows torch,
            # so its absence says torch is not ready yet either.
            out["torch_import_started_at_window"] = "torch" in sys.modules
            out["open_clip_imported_at_window"] = "open_clip" in sys.modules
        # A first launch opens on the pooling grid (issue 12): the first map is its first tile with one.
        shown = w.views.side.map.has_map() or any(t.full is not None for t in w.views.grid.contents())
        if "first_map" not in out and shown:
            out["first_map"] = now
            QTimer.singleShot(200, quit_now)  # let the frame with the map be painted
        if now > 300:
            out["error"] = "no map after 300 s: " + (w.banner.text() or w.status.job_label.text())
            quit_now()

    def quit_now() -> None:
        timer.stop()
        start = time.time()
        w.close()
        out["quit_window_gone"] = time.time() - start
        out["quit_started"] = start - t0
        app.quit()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(10)
    app.exec()
    out["quit_returned"] = time.time() - t0
    print("BENCH " + json.dumps(out), flush=True)
    from eclip_desktop.app.main import exit_fast
    exit_fast(0)  # as `eclip-desktop` ends after its window closes


def run_once(platform: str) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": platform, "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    t0 = time.time()
    subprocess.run([sys.executable, "-c", "import torch, open_clip"], check=True, env=env)
    result = {"import_torch_open_clip": time.time() - t0}
    t0 = time.time()
    done = subprocess.run([sys.executable, __file__, "--child", repr(t0)], env=env, capture_output=True, text=True)
    exited = time.time() - t0
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"the window run failed:\n{done.stderr[-3000:]}")
    result.update(json.loads(line[6:]))
    result["quit_process_exited"] = exited - result.pop("quit_started")
    result["first_map_minus_import"] = result.get("first_map", float("nan")) - result["import_torch_open_clip"]
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--platform", default="offscreen", help="Qt platform: offscreen, or xcb under Xvfb")
    parser.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.child)
        return 0
    runs = []
    for _ in range(args.runs):
        r = run_once(args.platform)
        runs.append(r)
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()}), flush=True)
    keys = ["import_torch_open_clip", "window", "first_map", "first_map_minus_import", "quit_window_gone",
            "quit_process_exited"]
    print("median (s): " + ", ".join(f"{k} {statistics.median(r[k] for r in runs):.2f}" for k in keys
                                     if all(k in r for r in runs)))
    print(f"open_clip (so torch too) imported before the window was shown: "
          f"{any(r['open_clip_imported_at_window'] for r in runs)}; "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
