"""The window's size against the screen: never larger than the screen it is on, usable down to
1000x700 (narrow docks, the display toolbar folding into its » menu, side panels that collapse)."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QGuiApplication

DEFAULT_SIZE = QSize(1440, 900)
SMALL_WIDTH = 1100  # below this the docks give the views the room they can spare


def initial_size(w) -> None:
    w.resize(DEFAULT_SIZE)
    fit_to_screen(w)


def screen_room(w) -> QSize | None:
    # The offscreen platform (tests, screenshots) pretends an 800x600 screen: no cap there.
    if QGuiApplication.platformName() in ("offscreen", "minimal"):
        return None
    screen = w.screen() if w.windowHandle() is None else w.windowHandle().screen()
    return screen.availableGeometry().size() if screen is not None else None


def fit_to_screen(w) -> None:
    """Cap the window at the screen's free area: whatever a layout or a dialog asks for later
    (a grid of tiles, an export), the window cannot push its right panel off the screen."""
    room = screen_room(w)
    if room is None or room.width() <= 0:
        return
    w.setMaximumSize(room)
    if w.width() > room.width() or w.height() > room.height():
        w.resize(min(w.width(), room.width()), min(w.height(), room.height()))
    compact_docks(w)


def compact_docks(w) -> None:
    """On a narrow window, give the docks their small widths so the maps keep most of it."""
    if w.width() >= SMALL_WIDTH:
        return
    docks = [d for d in (w.images_dock, w.controls_dock) if d.isVisible() and not d.isFloating()]
    if docks:
        w.resizeDocks(docks, [d.minimumWidth() for d in docks], Qt.Horizontal)


def toggle_side_panels(w) -> None:
    """Hide both side panels (the maps take the whole window) or bring them back."""
    docks = (w.images_dock, w.controls_dock, w.wordnet_dock)
    shown = [d for d in docks if d.isVisible()]
    if shown:
        w.hidden_docks = shown
        for d in shown:
            d.hide()
    else:
        for d in getattr(w, "hidden_docks", None) or (w.images_dock, w.controls_dock):
            d.show()
        w.controls_dock.raise_()


def on_show(w) -> None:
    """Once shown and styled: the controls dock as narrow as its controls allow, and a move to another
    screen refits the window."""
    scroll = w.controls_scroll
    scroll.setMinimumWidth(w.controls.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width()
                           + 2 * scroll.frameWidth())
    handle = w.windowHandle()
    if handle is not None and not getattr(w, "screen_hooked", False):
        handle.screenChanged.connect(lambda *_: fit_to_screen(w))
        w.screen_hooked = True
    fit_to_screen(w)


def on_resize(w, event) -> None:
    if event.oldSize().width() >= SMALL_WIDTH > event.size().width():
        # After the main window's layout has taken the new size; now it would spread it anew.
        QTimer.singleShot(0, lambda: compact_docks(w))
