"""A label that never widens its parent: one line shortened with '…', or (wrap=True) the whole
text wrapped onto as many lines as the width needs, for titles whose end matters (the pooling)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy


class ElidedLabel(QLabel):
    def __init__(self, text: str = "", parent=None, mode=Qt.ElideRight, wrap: bool = False):
        super().__init__(parent)
        self._full = ""
        self._mode = mode
        self._wrap = wrap
        self.setWordWrap(wrap)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Minimum if wrap else QSizePolicy.Preferred)
        self.setTextFormat(Qt.PlainText)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt naming)
        self._full = text or ""
        self.setToolTip(self._full)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        if self._wrap:
            if super().text() != self._full:
                super().setText(self._full)
            return
        shown = self.fontMetrics().elidedText(self._full, self._mode, max(self.width() - 2, 10))
        super().setText(shown)
