"""The Faithfulness dock: deletion and insertion curves of the map on screen (RISE's causal metrics).

A faithful map ranks first the pixels the model's similarity depends on: removing them in that order
makes the similarity fall fast (low deletion area), putting them back into a blurred image makes it
rise fast (high insertion area). The dock plots both curves for the map it measured and says when
the map on screen is no longer that one."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

DEFAULT_STEPS = 32


class FaithfulnessDock(QDockWidget):
    measure_requested = Signal(int)  # steps

    def __init__(self, parent=None):
        super().__init__("Faithfulness", parent)
        self.setObjectName("faithfulness-dock")
        body = QWidget()
        v = QVBoxLayout(body)
        row = QHBoxLayout()
        self.measure = QPushButton("Measure the map on screen")
        self.measure.setToolTip("Deletion and insertion curves of the map shown, computed on the worker")
        self.steps = QSpinBox()
        self.steps.setRange(2, 256)
        self.steps.setValue(DEFAULT_STEPS)
        self.steps.setToolTip("Steps of each curve (pixels change in equal shares)")
        row.addWidget(self.measure, 1)
        row.addWidget(QLabel("steps"))
        row.addWidget(self.steps)
        v.addLayout(row)
        self.plot = pg.PlotWidget(background=None)
        self.plot.setLabel("bottom", "share of pixels removed / inserted (map order)")
        self.plot.setLabel("left", "image\u2013text cosine")
        for side in ("left", "bottom"):
            self.plot.getAxis(side).enableAutoSIPrefix(False)  # cosines read as they are, not "x0.001"
        self.plot.setMinimumHeight(160)
        self.legend = self.plot.addLegend(offset=(-8, 8))
        self.deletion = self.plot.plot([], [], pen=pg.mkPen("#d62728", width=2), name="deletion")
        self.insertion = self.plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2), name="insertion")
        v.addWidget(self.plot, 1)
        self.caption = QLabel("Shows how the model's similarity follows the map when its pixels are removed "
                              "(deletion: lower area is better) or inserted into a blurred copy (insertion: "
                              "higher is better).")
        self.caption.setWordWrap(True)
        v.addWidget(self.caption)
        self.setWidget(body)
        self.measured = None  # the request of the curves shown
        self._areas = (float("nan"), float("nan"))
        self.measure.clicked.connect(lambda *_: self.measure_requested.emit(self.steps.value()))

    def show_busy(self, what: str) -> None:
        self.caption.setText(f"measuring {what} \u2026")

    def show_result(self, result, current_request) -> None:
        self.measured = result.request
        self._areas = (result.deletion_auc, result.insertion_auc)
        self.deletion.setData(result.fraction, result.deletion)
        self.insertion.setData(result.fraction, result.insertion)
        self.show_state(current_request)

    def show_state(self, current_request) -> None:
        """The caption for the curves shown, saying when the map on screen is no longer the one measured."""
        if self.measured is None:
            return
        deletion, insertion = self._areas
        text = (f"{self.measured.describe()}: deletion area {deletion:.3f}, insertion area {insertion:.3f} "
                f"({self.measured.steps} steps)")
        if current_request != self.measured:
            text += " \u2014 the map on screen has changed since; measure again"
        self.caption.setText(text)

    def show_error(self, message: str) -> None:
        self.caption.setText(f"could not measure: {message}")

    def show_unavailable(self, why: str) -> None:
        self.caption.setText(why)
