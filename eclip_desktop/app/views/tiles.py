"""Grids of small map tiles (per pooling, per prompt, per method, per model) with linked pan and zoom.

When the rows get short (a 2x2 grid in a 1000x700 window) the tiles go compact: the short form of
their titles (still wrapped, never cut), no title row over the score bars, a shorter header and a
smaller minimum map, so the grid fits without a scroll bar; taller windows keep the full titles.
"""
from __future__ import annotations

import math

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

from eclip_desktop.app.views.canvas import link, make_view, style_graphics
from eclip_desktop.app.views.score_bars import ScoreBars
from eclip_desktop.app.widgets.elided_label import ElidedLabel
from eclip_desktop.viewer.scene import TileContent
from eclip_desktop.viewer.state import DisplayState

# Below this height per row of tiles the grid goes compact. A full tile (two-line title, caption,
# titled score bars, a readable map) needs about this much; at 1440x900 a 2x2 grid has ~340 px a row.
COMPACT_ROW_HEIGHT = 300
MAP_MIN_HEIGHT = 90
COMPACT_MAP_MIN_HEIGHT = 70


class _TileGraphics(pg.GraphicsLayoutWidget):
    def sizeHint(self) -> QSize:
        # QGraphicsView asks for most of the screen; a tile asks for its minimum and grows (stretch).
        # More would cost a scroll bar: wrapped labels give the grid a height-for-width, and a scroll
        # area makes its content at least that tall, which is the sum of the preferred heights.
        return QSize(320, self.minimumHeight())


class Tile(QFrame):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFrameShape(QFrame.StyledPanel)
        self.title = ElidedLabel(wrap=True)  # a tile title's end is its pooling or prompt: never cut
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.glw = _TileGraphics()
        style_graphics(self.glw)
        self.glw.setMinimumHeight(MAP_MIN_HEIGHT)  # maps shrink first, down to this
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
        self.compact = False
        self._content: TileContent | None = None

    def set_compact(self, on: bool) -> None:
        self.compact = on
        self.glw.setMinimumHeight(COMPACT_MAP_MIN_HEIGHT if on else MAP_MIN_HEIGHT)
        if self._content is not None:
            self._set_texts(self._content)

    def _set_texts(self, c: TileContent) -> None:
        self.title.setText(c.compact_title or c.title if self.compact else c.title)
        self.title.setToolTip(c.tooltip or c.title)
        if c.bars:
            # Compact: the bars' own title row goes; the bold row is still the shown prompt.
            self.bars.set_scores(c.bars["labels"], c.bars["probabilities"], c.bars["cosines"],
                                 c.bars.get("shown", -1), "" if self.compact else c.bars.get("title", ""))

    def set_content(self, c: TileContent, image, display: DisplayState) -> None:
        self._content = c
        self._set_texts(c)
        self.setStyleSheet("Tile { border: 2px solid #e68c1e; }" if c.highlight else "")
        if image is None:
            self.canvas.set_image(None)
        else:
            self.canvas.set_image(image.preview, image.width, image.height)
        self.canvas.set_map(c.preview, c.full, display, c.raw_range, c.note)
        self.canvas.set_ground_truth(c.extra.get("gt") if image is not None else None)
        self.caption.setText(c.caption)
        self.caption.setVisible(bool(c.caption))
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
        self.map_visible = True
        self.compact = False
        self._contents: list[TileContent] = []
        self._headers = ("", "")  # full, compact
        self._rows = 0

    def canvases(self):
        return [t.canvas for t in self.tiles if t.isVisible()]

    def _ensure(self, n: int) -> None:
        while len(self.tiles) < n:
            tile = Tile()
            tile.set_compact(self.compact)
            tile.canvas.map_visible = self.map_visible
            tile.glw.scene().sigMouseMoved.connect(lambda pos, t=tile: self.cursor_text.emit(t.canvas.readout(pos)))
            self.tiles.append(tile)
            link([t.canvas for t in self.tiles])

    def set_tiles(self, header: str, contents: list[TileContent], image, display: DisplayState,
                  compact_header: str = "") -> None:
        self._headers = (header, compact_header or header)
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
        self._rows = rows
        self._fit()

    def _fit(self) -> None:
        # Decided on the grid's own height, which the window gives it: the area under the header
        # would change with the (shorter) compact header and could flip the decision back.
        compact = self._rows > 1 and self.height() / self._rows < COMPACT_ROW_HEIGHT
        if compact != self.compact:
            self.compact = compact
            for tile in self.tiles:
                tile.set_compact(compact)
        header = self._headers[1] if compact else self._headers[0]
        self.header.setText(header)
        self.header.setVisible(bool(header))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().height() != event.oldSize().height():
            self._fit()

    def apply_display(self, display: DisplayState) -> None:
        for tile in self.tiles[:len(self._contents)]:
            tile.canvas.apply_display(display)

    def contents(self) -> list[TileContent]:
        return list(self._contents)
