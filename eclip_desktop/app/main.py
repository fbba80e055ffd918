"""Start the window: `eclip-desktop`, `eclip-desktop gui [IMAGE...] [--model M --pretrained W --device D]`."""
from __future__ import annotations

import os
import sys


def run(images=None, model: str | None = None, pretrained: str | None = None, device: str = "auto",
        texts=None) -> int:
    from PySide6.QtWidgets import QApplication

    from eclip_desktop import __version__
    from eclip_desktop.app.settings import APPLICATION, ORGANISATION
    from eclip_desktop.viewer.state import ModelChoice

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationVersion(__version__)
    _set_desktop_identity(app)
    # torch's threads are limited on the worker with the first model (workers/compute.py): importing
    # torch here would keep the window from opening for seconds.

    from eclip_desktop.app.main_window import MainWindow
    from eclip_desktop.core.model.family import FAMILY, family_available
    device = device or "auto"
    choice = "auto"
    if model:
        choice = ModelChoice(model, pretrained, device)
    elif device != "auto" and family_available():
        choice = ModelChoice(FAMILY, None, device)
    window = MainWindow(model=choice, images=list(images or []), texts=texts)
    if choice == "auto":
        window.controls.show_device(device)  # used by the first model the user loads
    window.show()
    _close_on_interrupt(window)
    _collect_on_the_gui_thread(window)
    code = app.exec()
    exit_fast(code)
    return code  # not reached: exit_fast ends the process


def exit_fast(code: int) -> None:
    """End the process once the window has closed (settings saved, workers stopped).

    Python's own shutdown then tears down torch, Qt and pyqtgraph object by object, measured at
    about 4.5 s on a 2-core machine (scripts/bench_startup.py); nothing in it matters to
    the user, so quitting ends here.
    """
    import logging
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _set_desktop_identity(app) -> None:
    """The window icon, and the desktop entry's id (Wayland and the task bars match windows to launchers by it)."""
    from PySide6.QtGui import QIcon

    from eclip_desktop.core.io.paths import APP_ID, ICON_NAME, LINUX_FILES
    app.setDesktopFileName(APP_ID)
    svg = LINUX_FILES / "icons" / f"{ICON_NAME}.svg"
    if svg.is_file():
        app.setWindowIcon(QIcon(str(svg)))


def _close_on_interrupt(window) -> None:
    """Ctrl+C in the terminal closes the window cleanly (workers stopped) instead of being ignored.

    Python runs signal handlers only between bytecodes, never inside Qt's event loop, so a slow
    timer gives the interpreter a moment to notice the signal.
    """
    import signal

    from PySide6.QtCore import QTimer
    signal.signal(signal.SIGINT, lambda *_: window.close())
    tick = QTimer(window)
    tick.timeout.connect(lambda: None)
    tick.start(250)


def _collect_on_the_gui_thread(window) -> None:
    """Python's cyclic collector runs on whichever thread allocates when its threshold is crossed; a
    cycle through Qt objects freed on a worker thread deadlocks against the GUI thread (seen with a
    window and its presenter). So the automatic collector is off and the GUI thread collects, every
    few seconds and when the event loop ends."""
    import gc

    from PySide6.QtCore import QCoreApplication, QTimer
    gc.disable()
    timer = QTimer(window)
    timer.timeout.connect(lambda: gc.collect())
    timer.start(5_000)
    QCoreApplication.instance().aboutToQuit.connect(lambda: gc.collect())
