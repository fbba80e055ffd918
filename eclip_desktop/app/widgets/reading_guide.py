"""A strip under the views that says how to read the map on screen (View ▸ Reading Guide hides it)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel


class ReadingGuide(QFrame):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("readingGuide")
        self.setStyleSheet("#readingGuide { background: palette(alternate-base); border-radius: 4px; }")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        self.label = QLabel()
        self.label.setWordWrap(True)  # wrapped, so a narrow window shows all of it instead of a cut line
        self.label.setTextFormat(Qt.RichText)
        self.label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        row.addWidget(self.label, 1)

    def set_html(self, text: str) -> None:
        if text != self.label.text():
            self.label.setText(text)

    def text(self) -> str:
        return self.label.text()
