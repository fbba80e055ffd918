"""An inline message strip above the views: errors and notices without modal dialogs.

Modal boxes would stop the event loop the worker reports into and block tests; a banner says the
same thing, stays until read, and can carry one action ("Choose a model…").
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton

_STYLES = {
    "info": ("#e8f0fe", "#1a3d7c", "#9ab4e8"),
    "warning": ("#fff4ce", "#5c4400", "#e0c060"),
    "error": ("#fde7e9", "#7a1020", "#e3a0a8"),
}


class MessageBanner(QFrame):
    action_triggered = Signal(str)  # the action id given to show_message

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("messageBanner")
        self.source = ""
        self.level = ""
        self._action = ""
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 6, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.button = QPushButton()
        self.button.clicked.connect(lambda: self.action_triggered.emit(self._action))
        close = QToolButton()
        close.setText("\u2715")
        close.setToolTip("Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(self.dismiss)
        row.addWidget(self.label, 1)
        row.addWidget(self.button)
        row.addWidget(close)
        self.hide()

    def show_message(self, text: str, level: str = "error", source: str = "",
                     action: str = "", action_text: str = "") -> None:
        bg, fg, border = _STYLES.get(level, _STYLES["info"])
        self.setStyleSheet(f"#messageBanner {{ background: {bg}; border: 1px solid {border}; border-radius: 4px; }}"
                           f"#messageBanner QLabel {{ color: {fg}; }}")
        self.label.setText(text)
        self.source, self.level, self._action = source, level, action
        self.button.setVisible(bool(action))
        self.button.setText(action_text)
        self.show()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""

    def clear_source(self, source: str) -> None:
        """Hide the message if it came from `source` (that cause has gone away)."""
        if self.isVisible() and self.source == source:
            self.dismiss()

    def dismiss(self) -> None:
        self.source = self.level = ""
        self.hide()
