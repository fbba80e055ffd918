"""The window's size against the screen: never larger than the screen it is on, usable down to
1000x700 (narrow docks, the display toolbar folding into its » menu, side panels that collapse)."""
from __future__ import annotations

from PySide6.QtCore import QSize, QTimer
from PySide6.QtGui import QGuiApplication

DEFAULT_SIZE = QSize(1440, 900)
SMALL_WIDTH = 1100  # below this the docks give the views the room they can spare


class LayoutMixin:
    def initial_size(self) -> None:
        self.resize(DEFAULT_SIZE)
        self.fit_to_screen()

    def _screen_room(self) -> QSize | None:
        # The offscreen platform (tests, screenshots) pretends an 800x600 screen: no cap there.
        if QGuiApplication.platformName() in ("offscreen", "minimal"):
            return None
        screen = self.screen() if self.windowHandle() is None else self.windowHandle().screen()
        return screen.availableGeometry().size() if screen is not None else None

    def fit_to_screen(self) -> None:
        """Cap the window at the screen's free area: whatever a layout or a dialog asks for later
        (a grid of tiles, an export), the window cannot push its right panel off the screen."""
        room = self._screen_room()
        if room is None or room.width() <= 0:
            return
        self.setMaximumSize(room)
        if self.width() > room.width() or self.height() > room.height():
            self.resize(min(self.width(), room.width()), min(self.height(), room.height()))
        self.compact_docks()

    def compact_docks(self) -> None:
        """On a narrow window, give the docks their small widths so the maps keep most of it."""
        if self.width() >= SMALL_WIDTH:
            return
        docks = [d for d in (self.images_dock, self.controls_dock) if d.isVisible() and not d.isFloating()]
        if docks:
            self.resizeDocks(docks, [d.minimumWidth() for d in docks], self._horizontal)

    def toggle_side_panels(self) -> None:
        """Hide both side panels (the maps take the whole window) or bring them back."""
        docks = (self.images_dock, self.controls_dock, self.wordnet_dock)
        shown = [d for d in docks if d.isVisible()]
        if shown:
            self._hidden_docks = shown
            for d in shown:
                d.hide()
        else:
            for d in getattr(self, "_hidden_docks", None) or (self.images_dock, self.controls_dock):
                d.show()
            self.controls_dock.raise_()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        scroll = self.controls_scroll
        scroll.setMinimumWidth(self.controls.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width()
                               + 2 * scroll.frameWidth())
        handle = self.windowHandle()
        if handle is not None and not getattr(self, "_screen_hooked", False):
            handle.screenChanged.connect(lambda *_: self.fit_to_screen())
            self._screen_hooked = True
        self.fit_to_screen()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.oldSize().width() >= SMALL_WIDTH > event.size().width():
            # After the main window's layout has taken the new size; now it would spread it anew.
            QTimer.singleShot(0, self.compact_docks)
