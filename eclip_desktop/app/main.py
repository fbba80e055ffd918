"""Start the window: `eclip-desktop`, `eclip-desktop gui [IMAGE...] [--model M --pretrained W --device D]`."""
from __future__ import annotations

import os
import sys


def _limit_torch_threads() -> None:
    # torch takes every core by default; leaving one to the UI thread keeps the window fluid
    # while a map is computed on a small machine.
    import torch
    cores = os.cpu_count() or 1
    if cores > 1 and torch.get_num_threads() >= cores:
        torch.set_num_threads(cores - 1)


def run(images=None, model: str | None = None, pretrained: str | None = None, device: str = "auto",
        texts=None) -> int:
    from PySide6.QtWidgets import QApplication

    from eclip_desktop import __version__
    from eclip_desktop.app.settings import APPLICATION, ORGANISATION
    from eclip_desktop.app.state import ModelChoice

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationVersion(__version__)
    _limit_torch_threads()

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
    return app.exec()


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
