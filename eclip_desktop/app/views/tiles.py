"""Grids of small map tiles (per pooling, per prompt, per method) with linked pan and zoom."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from eclip_desktop.app.state import DisplayState
from eclip_desktop.app.views.canvas import link, make_view, style_graphics
from eclip_desktop.app.views.score_bars import ScoreBars
from eclip_desktop.app.widgets.elided_label import ElidedLabel


@dataclass
class TileContent:
    title: str
    preview: np.ndarray | None  # None: the tile says `note` instead of a map
    full: np.ndarray | None = None
    raw_range: tuple[float, float] | None = None
    caption: str = ""
    note: str = ""
    bars: dict | None = None  # {"labels", "probabilities", "cosines", "shown", "title"}
    highlight: bool = False
    tooltip: str = ""
    extra: dict = field(default_factory=dict)


class _TileGraphics(pg.GraphicsLayoutWidget):
    def sizeHint(self) -> QSize:
        # QGraphicsView asks for most of the screen; a tile should ask for little and grow.
        return QSize(320, 200)


class Tile(QFrame):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFrameShape(QFrame.StyledPanel)
        self.title = ElidedLabel()
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.glw = _TileGraphics()
        style_graphics(self.glw)
        self.glw.setMinimumHeight(160)
        self.canvas = make_view(self.glw, 0, 0)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: palette(placeholder-text);")
        self.bars = ScoreBars()
        box = QVBoxLayout(self)
        box.setContentsMargins(6, 6, 6, 6)
        box.setSpacing(4)
        box.addWidget(self.title)
        box.addWidget(self.glw, 1)
        box.addWidget(self.caption)
        box.addWidget(self.bars)

    def set_content(self, c: TileContent, image, display: DisplayState) -> None:
        self.title.setText(c.title)
        self.setStyleSheet("Tile { border: 2px solid #e68c1e; }" if c.highlight else "")
        if image is None:
            self.canvas.set_image(None)
        else:
            self.canvas.set_image(image.preview, image.width, image.height)
        self.canvas.set_map(c.preview, c.full, display, c.raw_range, c.note)
        self.caption.setText(c.caption)
        self.caption.setVisible(bool(c.caption))
        if c.bars:
            self.bars.set_scores(c.bars["labels"], c.bars["probabilities"], c.bars["cosines"],
                                 c.bars.get("shown", -1), c.bars.get("title", ""))
        self.bars.setVisible(bool(c.bars))


class TileGrid(QWidget):
    cursor_text = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.header = QLabel()
        self.header.setWordWrap(True)
        self.header.setTextFormat(Qt.RichText)
        self.header.setContentsMargins(4, 2, 4, 2)
        self.area = QScrollArea()
        self.area.setWidgetResizable(True)
        self.area.setFrameShape(QFrame.NoFrame)
        self.body = QWidget()
        self.grid = QGridLayout(self.body)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(8)
        self.area.setWidget(self.body)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.header)
        box.addWidget(self.area, 1)
        self.tiles: list[Tile] = []
        self._contents: list[TileContent] = []

    def canvases(self):
        return [t.canvas for t in self.tiles if t.isVisible()]

    def _ensure(self, n: int) -> None:
        while len(self.tiles) < n:
            tile = Tile()
            tile.glw.scene().sigMouseMoved.connect(lambda pos, t=tile: self.cursor_text.emit(t.canvas.readout(pos)))
            self.tiles.append(tile)
            link([t.canvas for t in self.tiles])

    def set_tiles(self, header: str, contents: list[TileContent], image, display: DisplayState) -> None:
        self.header.setText(header)
        self.header.setVisible(bool(header))
        self._ensure(len(contents))
        cols = 1 if len(contents) <= 1 else 2 if len(contents) <= 4 else 3
        for i, tile in enumerate(self.tiles):
            self.grid.removeWidget(tile)
            if i < len(contents):
                self.grid.addWidget(tile, i // cols, i % cols)
                tile.set_content(contents[i], image, display)
                tile.show()
            else:
                tile.hide()
        for c in range(3):
            self.grid.setColumnStretch(c, 1 if c < cols else 0)
        rows = math.ceil(len(contents) / cols) if contents else 0
        for r in range(len(self.tiles)):
            self.grid.setRowStretch(r, 1 if r < rows else 0)
        self._contents = contents

    def apply_display(self, display: DisplayState) -> None:
        for tile in self.tiles[:len(self._contents)]:
            tile.canvas.apply_display(display)

    def contents(self) -> list[TileContent]:
        return list(self._contents)
