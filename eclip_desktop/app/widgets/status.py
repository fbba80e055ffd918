"""Status bar: what the worker is doing (with Cancel), the value under the cursor, model and device."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar

from eclip_desktop.app.widgets.elided_label import ElidedLabel


class StatusBar(QStatusBar):
    cancel_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        # Shortened with '…', never wider than the room left: a long job text ("loading <a path> …")
        # would otherwise raise the window's minimum width past a 1000 px screen.
        self.job_label = ElidedLabel()
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # no step counts from the core: an honest "working" indicator
        self.busy.setFixedWidth(90)
        self.busy.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running job (Esc)")
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.cursor_label = QLabel()
        self.model_label = QLabel("model: none")
        self.device_label = QLabel("device: \u2014")
        self.device_label.setToolTip("where the model runs now")
        self.addWidget(self.job_label, 1)
        self.addWidget(self.busy)
        self.addWidget(self.cancel_button)
        for w in (self.cursor_label, self.model_label, self.device_label):
            self.addPermanentWidget(w)
        self._progress = False
        self.set_busy(False)

    def set_busy(self, busy: bool, text: str = "") -> None:
        self.busy.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if text:
            self.set_job_text(text, progress=busy)
        elif not busy and self._progress:
            # Idle: a job's own "doing …" line is over; a result line ("maps ready", "WordNet
            # unavailable") stays until something else is said.
            self.set_job_text("")

    def set_job_text(self, text: str, progress: bool = False) -> None:
        """`progress`: the running job's label or progress, cleared when every worker is idle."""
        self._progress = progress and bool(text)
        self.job_label.setText(text)

    def set_model(self, info: dict | None, label: str = "") -> None:
        if not info:
            self.model_label.setText("model: none")
            self.device_label.setText("device: \u2014")
            return
        self.model_label.setText(f"model: {label or info.get('model', '?')}")
        # Which MLP activation the weights run with, and why: OpenAI's weights need QuickGELU and a
        # weights file may not say (core/model/activation.py).
        activation = info.get("activation")
        tip = (f"activation: {activation} ({info.get('activation_source', '')})" if activation else "")
        if info.get("activation_note"):
            tip += "\n" + info["activation_note"]
        self.model_label.setToolTip(tip)
        self.device_label.setText(f"device: {info.get('device', '?')} \u00b7 {info.get('dtype', '?')}")

    def set_cursor(self, text: str) -> None:
        self.cursor_label.setText(text)
