"""The distribution of the shown map's values, with the colour levels and the threshold marked:
a map whose values pile up in one narrow band is a stretched near-constant, one with two humps
separates something from the rest (View ▸ Histogram, key H)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize

from eclip_desktop.app.views.canvas import BACKGROUND
from eclip_desktop.core.figures.panel import sample_pixels

BINS = 64


class MapHistogram(pg.PlotWidget):
    def __init__(self, parent=None):
        super().__init__(parent, background=BACKGROUND)
        self.setFixedHeight(96)
        self.setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.getPlotItem().hideAxis("left")
        self.getPlotItem().setLabel("bottom", "map value (share of pixels per bin)")
        self.setXRange(0.0, 1.0, padding=0.01)
        self.bars = pg.BarGraphItem(x0=[], x1=[], height=[], y0=0, brush=(120, 170, 230), pen=None)
        self.addItem(self.bars)
        pen = pg.mkPen((255, 255, 255), width=1, style=pg.QtCore.Qt.DashLine)
        self.level_lines = [pg.InfiniteLine(angle=90, pen=pen) for _ in range(2)]
        self.threshold_line = pg.InfiniteLine(angle=90, pen=pg.mkPen((255, 150, 30), width=2))
        for line in (*self.level_lines, self.threshold_line):
            self.addItem(line)
        self.counts = np.zeros(BINS)

    def sizeHint(self) -> QSize:
        return QSize(300, 96)

    def set_values(self, values: np.ndarray | None, levels=(0.0, 1.0), threshold: float | None = None) -> None:
        if values is None:
            self.bars.setOpts(x0=[], x1=[], height=[])
            self.counts = np.zeros(BINS)
        else:
            counts, edges = np.histogram(sample_pixels(values), bins=BINS, range=(0.0, 1.0))
            self.counts = counts / max(int(counts.sum()), 1)
            self.bars.setOpts(x0=edges[:-1], x1=edges[1:], height=self.counts)
            self.setYRange(0.0, float(self.counts.max()) * 1.05 or 1.0, padding=0)
        for line, value in zip(self.level_lines, levels):
            line.setValue(value)
            line.setVisible(values is not None and tuple(levels) != (0.0, 1.0))
        self.threshold_line.setVisible(threshold is not None and values is not None)
        if threshold is not None:
            self.threshold_line.setValue(threshold)
