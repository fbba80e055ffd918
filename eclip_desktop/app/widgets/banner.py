"""An inline message strip above the views: errors and notices without modal dialogs.

Modal boxes would stop the event loop the worker reports into and block tests; a banner says the
same thing, stays until read, and can carry one action ("Choose a model…").

A banner is one line: two wrapped banners once took a third of a 700 px window from the map. A
message longer than the line is elided, whole in the tooltip, and "More" unfolds it in place.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QToolButton, QVBoxLayout, QWidget

_STYLES = {
    "info": ("#e8f0fe", "#1a3d7c", "#9ab4e8"),
    "warning": ("#fff4ce", "#5c4400", "#e0c060"),
    "error": ("#fde7e9", "#7a1020", "#e3a0a8"),
}
MORE, LESS = "More", "Less"
MIN_TEXT_PX = 160  # the least of its line a message keeps before the buttons move under "More"


class BannerText(QLabel):
    """The message: one elided line, or the whole text wrapped once unfolded."""
    resized = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._full = ""
        self._unfolded = False
        self.setTextFormat(Qt.PlainText)
        self.setTextInteractionFlags(Qt.TextSelectableByMouse)
        # Ignored: the text never asks for more width than the strip has (it elides instead).
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)

    def set_full_text(self, text: str) -> None:
        self._full = text or ""
        self.setToolTip(self._full)
        self._update()

    def full_text(self) -> str:
        return self._full

    def set_unfolded(self, unfolded: bool) -> None:
        self._unfolded = unfolded
        self._update()

    def is_cut(self) -> bool:
        """Whether one line cannot hold the whole message (so "More" has something to show)."""
        return "\n" in self._full or self.fontMetrics().horizontalAdvance(self._full) > self._room()

    def _room(self) -> int:
        return max(self.contentsRect().width() - 2, 10)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update()
        self.resized.emit()

    def _update(self) -> None:
        self.setWordWrap(self._unfolded)
        if self._unfolded:
            shown = self._full
        else:
            line = " ".join(self._full.split())
            shown = self.fontMetrics().elidedText(line, Qt.ElideRight, self._room())
        if self.text() != shown:
            self.setText(shown)


class MessageBanner(QFrame):
    action_triggered = Signal(str)  # the action id given to show_message
    dismissed = Signal()  # closed by the user (the ✕), not replaced by another message

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("messageBanner")
        self.source = ""
        self.level = ""
        self._action = ""
        self._action2 = ""
        self.label = BannerText()
        self.label.resized.connect(self._sync)
        self.more = QToolButton()
        self.more.setText(MORE)
        self.more.setAutoRaise(True)
        self.more.setCheckable(True)
        self.more.toggled.connect(self._unfold)
        self.button = QPushButton()
        self.button.clicked.connect(lambda: self.action_triggered.emit(self._action))
        self.button2 = QPushButton()
        self.button2.clicked.connect(lambda: self.action_triggered.emit(self._action2))
        # The action buttons: beside the line when they leave it room, else under "More". A child of
        # the banner from the start: a widget reparented into a window whose updates are paused (a
        # render) keeps them paused and is never painted.
        self.actions = QWidget(self)
        buttons = QHBoxLayout(self.actions)
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.setSpacing(4)
        buttons.addWidget(self.button)
        buttons.addWidget(self.button2)
        self.close_button = QToolButton()
        self.close_button.setText("\u2715")
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(self._closed)
        box = QVBoxLayout(self)
        box.setContentsMargins(8, 2, 4, 2)
        box.setSpacing(2)
        self.top = QHBoxLayout()
        self.top.setSpacing(4)
        self.top.addWidget(self.label, 1)
        self.top.addWidget(self.more, 0, Qt.AlignTop)
        self.top.addWidget(self.close_button, 0, Qt.AlignTop)
        self.bottom = QHBoxLayout()
        self.bottom.addStretch(1)
        self.bottom.addWidget(self.actions)
        box.addLayout(self.top)
        box.addLayout(self.bottom)
        self._inline = False  # where the actions sit now: True beside the line, False under it
        self.hide()

    def show_message(self, text: str, level: str = "error", source: str = "",
                     action: str = "", action_text: str = "", action2: str = "", action2_text: str = "") -> None:
        bg, fg, border = _STYLES.get(level, _STYLES["info"])
        self.setStyleSheet(f"#messageBanner {{ background: {bg}; border: 1px solid {border}; border-radius: 4px; }}"
                           f"#messageBanner QLabel {{ color: {fg}; }}")
        self.more.setChecked(False)  # a new message starts folded
        self.label.set_full_text(text)
        self.source, self.level, self._action = source, level, action
        self.button.setVisible(bool(action))
        self.button.setText(action_text)
        self._action2 = action2
        self.button2.setVisible(bool(action2))
        self.button2.setText(action2_text)
        self.show()
        self._sync()

    def text(self) -> str:
        return self.label.full_text() if self.isVisible() else ""

    def shown_text(self) -> str:
        """What the strip shows now: the message, or its elided line."""
        return self.label.text() if self.isVisible() else ""

    def clear_source(self, source: str) -> None:
        """Hide the message if it came from `source` (that cause has gone away)."""
        if self.isVisible() and self.source == source:
            self.dismiss()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._sync()

    def _has_actions(self) -> bool:
        return bool(self._action or self._action2)

    def _actions_fit(self) -> bool:
        """Whether the buttons leave the message MIN_TEXT_PX of its line."""
        m = self.layout().contentsMargins()
        used = m.left() + m.right() + self.actions.sizeHint().width() + self.close_button.sizeHint().width()
        used += self.more.sizeHint().width() + 3 * self.top.spacing()
        return self.width() - used >= MIN_TEXT_PX

    def _sync(self) -> None:
        unfolded = self.more.isChecked()
        inline = not unfolded and self._actions_fit()
        if inline != self._inline:
            self._inline = inline
            if inline:
                self.bottom.removeWidget(self.actions)
                self.top.insertWidget(2, self.actions, 0, Qt.AlignTop)
            else:
                self.top.removeWidget(self.actions)
                self.bottom.addWidget(self.actions)
        self.actions.setVisible(self._has_actions() and (inline or unfolded))
        hidden_actions = self._has_actions() and not inline
        self.more.setVisible(unfolded or self.label.is_cut() or hidden_actions)
        self.more.setToolTip("Back to one line" if unfolded else
                             "Show the whole message" + (" and its actions" if hidden_actions else ""))

    def _unfold(self, unfolded: bool) -> None:
        self.label.set_unfolded(unfolded)
        self.more.setText(LESS if unfolded else MORE)
        self._sync()

    def _closed(self) -> None:
        self.dismissed.emit()
        self.dismiss()

    def dismiss(self) -> None:
        self.source = self.level = ""
        self.hide()
