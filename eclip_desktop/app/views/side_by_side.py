"""The image on the left, its map on the right (same pan and zoom), scores underneath."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QVBoxLayout, QWidget

from eclip_desktop.app.state import DisplayState
from eclip_desktop.app.views.canvas import link, make_view, style_graphics
from eclip_desktop.app.views.display import clip_levels
from eclip_desktop.app.views.score_bars import ScoreBars
from eclip_desktop.app.widgets.elided_label import ElidedLabel
from eclip_desktop.core.figures.render import colormap_lut


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
        self.right_title = ElidedLabel()
        self.caption = ElidedLabel()
        self.caption.setStyleSheet("color: palette(placeholder-text);")
        for label in (self.left_title, self.right_title):
            font = label.font()
            font.setBold(True)
            label.setFont(font)
        titles = QGridLayout()
        titles.setContentsMargins(4, 0, 4, 0)
        titles.addWidget(self.left_title, 0, 0)
        titles.addWidget(self.right_title, 0, 1)
        titles.addWidget(self.caption, 1, 1)
        titles.setColumnStretch(0, 1)
        titles.setColumnStretch(1, 1)
        self.scores = ScoreBars()
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(4)
        box.addLayout(titles)
        box.addWidget(self.glw, 1)
        box.addWidget(self.scores)
        self.glw.scene().sigMouseMoved.connect(self._mouse_moved)
        self._cmap = "viridis"

    def canvases(self):
        return [self.image, self.map]

    def _mouse_moved(self, pos) -> None:
        for canvas in (self.map, self.image):
            if canvas.contains_scene_pos(pos):
                # Over the image pane, read the map at the same pixel: both show one grid.
                if canvas is self.image:
                    pos = self.map.vb.mapViewToScene(self.image.vb.mapSceneToView(pos))
                self.cursor_text.emit(self.map.readout(pos) or canvas.readout(pos))
                return
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
