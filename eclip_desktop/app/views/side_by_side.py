"""The image on the left, its map on the right (same pan and zoom), scores underneath."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QVBoxLayout, QWidget

from eclip_desktop.app.views.canvas import link, make_view, style_graphics
from eclip_desktop.app.views.histogram import MapHistogram
from eclip_desktop.app.views.score_bars import ScoreBars
from eclip_desktop.app.widgets.elided_label import ElidedLabel
from eclip_desktop.core.figures.render import colormap_lut
from eclip_desktop.viewer.display import clip_levels, threshold_level
from eclip_desktop.viewer.state import DisplayState


def _colormap(name: str) -> pg.ColorMap:
    return pg.ColorMap(np.linspace(0.0, 1.0, 256), colormap_lut(name))


class SideBySideView(QWidget):
    cursor_text = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.glw = pg.GraphicsLayoutWidget()
        style_graphics(self.glw)
        self.image = make_view(self.glw, 0, 0)
        self.map = make_view(self.glw, 0, 1)
        link([self.image, self.map])
        self.colorbar = pg.ColorBarItem(values=(0.0, 1.0), width=14, interactive=False, colorMap=_colormap("viridis"))
        self.glw.addItem(self.colorbar, row=0, col=2)
        self.glw.ci.layout.setColumnStretchFactor(0, 1)
        self.glw.ci.layout.setColumnStretchFactor(1, 1)
        # Titles are Qt labels, not pyqtgraph LabelItems: those widen their column to the text.
        self.left_title = ElidedLabel()
        # Wrapped, not cut: the end of a map's title names its pooling, the caption its raw range.
        self.right_title = ElidedLabel(wrap=True)
        self.caption = ElidedLabel(wrap=True)
        self.caption.setStyleSheet("color: palette(placeholder-text);")
        for label in (self.left_title, self.right_title):
            font = label.font()
            font.setBold(True)
            label.setFont(font)
        titles = QGridLayout()
        titles.setContentsMargins(4, 0, 4, 0)
        titles.addWidget(self.left_title, 0, 0, Qt.AlignTop)
        titles.addWidget(self.right_title, 0, 1)
        titles.addWidget(self.caption, 1, 1)
        titles.setColumnStretch(0, 1)
        titles.setColumnStretch(1, 1)
        self.scores = ScoreBars()
        self.histogram = MapHistogram()
        self.histogram.hide()  # View ▸ Histogram (H)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(4)
        box.addLayout(titles)
        box.addWidget(self.glw, 1)
        box.addWidget(self.histogram)
        box.addWidget(self.scores)
        self.glw.scene().sigMouseMoved.connect(self._mouse_moved)
        self._cmap = "viridis"
        self._last_pos = None
        self.swipe_line = None

    def canvases(self):
        return [self.image, self.map]

    def set_swipe(self, on: bool) -> None:
        """Swipe compare in the map pane: drag the line; left of it the map, right of it the photo."""
        if on and self.swipe_line is None:
            w = self.map.size[0] if self.map.size else 1.0
            self.swipe_line = pg.InfiniteLine(pos=w / 2, angle=90, movable=True,
                                              pen=pg.mkPen((255, 210, 0), width=2))
            self.swipe_line.setZValue(5)
            self.swipe_line.sigPositionChanged.connect(lambda line: self.map.set_swipe(float(line.value())))
            self.map.vb.addItem(self.swipe_line)
            self.map.set_swipe(w / 2)
        elif not on and self.swipe_line is not None:
            self.map.vb.removeItem(self.swipe_line)
            self.swipe_line = None
            self.map.set_swipe(None)

    def refresh_readout(self) -> None:
        """Read the new map under a cursor that has not moved: the old value must not stay."""
        if self._last_pos is not None:
            self._mouse_moved(self._last_pos)

    def _mouse_moved(self, pos) -> None:
        self._last_pos = pos
        for canvas, other in ((self.map, self.image), (self.image, self.map)):
            if canvas.contains_scene_pos(pos):
                # The crosshair marks the same pixel in the other pane; the cursor marks this one.
                canvas.set_cross(None)
                other.set_cross(canvas.image_pos(pos))
                # Over the image pane, read the map at the same pixel: both show one grid.
                if canvas is self.image:
                    pos = self.map.vb.mapViewToScene(self.image.vb.mapSceneToView(pos))
                self.cursor_text.emit(self.map.readout(pos) or canvas.readout(pos))
                return
        for canvas in (self.map, self.image):
            canvas.set_cross(None)
        self.cursor_text.emit("")

    def set_titles(self, left: str, right: str, caption: str = "") -> None:
        self.left_title.setText(left)
        self.right_title.setText(right)
        self.caption.setText(caption)

    def apply_display(self, display: DisplayState) -> None:
        self.map.apply_display(display)
        if display.colormap != self._cmap:
            self.colorbar.setColorMap(_colormap(display.colormap))
            self._cmap = display.colormap
        levels = clip_levels(self.map.preview, display.percentile) if self.map.preview is not None else (0.0, 1.0)
        self.colorbar.setLevels(levels)
        if self.histogram.isVisible():
            values = self.map.preview
            level = threshold_level(values, display) if values is not None else None
            self.histogram.set_values(values, levels, level)
