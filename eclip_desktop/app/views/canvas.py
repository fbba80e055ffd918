"""One image with its heatmap and threshold outline inside a pyqtgraph ViewBox.

Coordinates are the full-size image's pixels (previews are stretched over that rectangle), the
y axis points down so pictures are upright, and the aspect ratio is locked.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen, QTextOption
from PySide6.QtWidgets import QGraphicsPathItem

from eclip_desktop.core.figures.render import colormap_lut
from eclip_desktop.viewer.display import clip_levels, outlines, threshold_mask
from eclip_desktop.viewer.state import DisplayState

BACKGROUND = "#1e1e1e"


def configure_viewbox(vb: pg.ViewBox) -> None:
    vb.invertY(True)
    vb.setAspectLocked(True)
    vb.setMenuEnabled(False)
    vb.setDefaultPadding(0.01)


class MapCanvas:
    def __init__(self, vb: pg.ViewBox):
        configure_viewbox(vb)
        self.vb = vb
        self.base = pg.ImageItem(axisOrder="row-major")
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat.setZValue(1)
        self.outline = QGraphicsPathItem()
        pen = QPen(QColor(255, 255, 255))
        pen.setWidthF(2.0)
        pen.setCosmetic(True)  # the same 2 screen pixels at any zoom
        self.outline.setPen(pen)
        self.outline.setZValue(2)
        # Hatching on the side above the threshold: a bare outline around a dark hole reads like a
        # detection just as one around a lit object does.
        self.hatch = pg.ImageItem(axisOrder="row-major")
        self.hatch.setZValue(1.5)
        # A loaded ground-truth mask: dashed orange, so it is never taken for the threshold outline.
        self.gt_outline = QGraphicsPathItem()
        gt_pen = QPen(QColor(255, 150, 30))
        gt_pen.setWidthF(2.0)
        gt_pen.setCosmetic(True)
        gt_pen.setStyle(Qt.DashLine)
        self.gt_outline.setPen(gt_pen)
        self.gt_outline.setZValue(3)
        self._gt_mask = None
        # Where the cursor is in the other pane of the side-by-side view: the same pixel, here.
        self.cross = pg.ScatterPlotItem(size=16, symbol="+", pen=pg.mkPen((255, 255, 255), width=2),
                                        brush=None, pxMode=True)
        self.cross.setZValue(4)
        self.cross.hide()
        self.note = pg.TextItem(color=(220, 220, 220), anchor=(0.5, 0.5))
        self.note.setZValue(3)
        self.note.textItem.document().setDefaultTextOption(QTextOption(Qt.AlignCenter))
        vb.sigResized.connect(lambda *_: self._place_note())
        vb.sigRangeChanged.connect(lambda *_: self._place_note() if self.size is None else None)
        for item in (self.base, self.heat, self.hatch, self.outline, self.gt_outline, self.cross):
            vb.addItem(item)
        vb.addItem(self.note, ignoreBounds=True)  # it follows the view; the view must not follow it
        self.size: tuple[int, int] | None = None  # full-size width, height
        self.values: np.ndarray | None = None  # full-size map for the cursor readout
        self.preview: np.ndarray | None = None
        self.raw_range: tuple[float, float] | None = None
        self._lut_key = None
        self.map_visible = True  # the overlay on/off key hides the map without forgetting it
        self.swipe: float | None = None

    # --- content -------------------------------------------------------------------------

    def set_image(self, rgb: np.ndarray | None, width: int = 0, height: int = 0) -> None:
        if rgb is None:
            self.base.clear()
            self.size = None
            self._place_note()
            return
        new_size = (int(width), int(height))
        self.base.setImage(rgb, autoLevels=False, levels=(0, 255))
        self.base.setRect(QRectF(0, 0, *new_size))
        if new_size != self.size:
            self.size = new_size
            # Auto-range follows resizes until the user pans or zooms (pyqtgraph turns it off then).
            self.vb.enableAutoRange()
        self._place_note()

    def set_map(self, preview: np.ndarray | None, full: np.ndarray | None, display: DisplayState,
                raw_range: tuple[float, float] | None = None, note: str = "") -> None:
        """Show a map (None hides it and shows `note` instead, e.g. "computing …")."""
        self.preview, self.values, self.raw_range = preview, full, raw_range
        if preview is None:
            self.heat.clear()
            self.hatch.clear()
            self.outline.setPath(QPainterPath())
        else:
            self.heat.setImage(preview, autoLevels=False, levels=(0.0, 1.0))
            self._place_heat()
        self.set_note(note)
        self.apply_display(display)

    def set_swipe(self, x: float | None) -> None:
        """Swipe compare: the map only left of image column x (None: the whole map)."""
        self.swipe = x
        if self.preview is not None:
            self._place_heat()

    def _place_heat(self) -> None:
        if self.size is None or self.preview is None:
            return
        w, h = self.size
        if self.swipe is None:
            if self.heat.image is None or self.heat.image.shape[:2] != self.preview.shape[:2]:
                self.heat.setImage(self.preview, autoLevels=False)
            self.heat.setRect(QRectF(0, 0, w, h))
            return
        cols = self.preview.shape[1]
        k = int(np.clip(round(self.swipe / w * cols), 1, cols))
        self.heat.setImage(np.ascontiguousarray(self.preview[:, :k]), autoLevels=False)
        self.heat.setRect(QRectF(0, 0, w * k / cols, h))

    def set_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))
        self._place_note()

    def _place_note(self) -> None:
        if self.size is None:  # no picture: the middle of whatever the pane shows, not of a 1 px image
            self.note.setPos(self.vb.viewRect().center())
        else:
            w, h = self.size
            self.note.setPos(QPointF(w / 2, h / 2))
        # Wrapped to the pane (in screen pixels): a note wider than a narrow pane was cut at its edge.
        self.note.setTextWidth(max(60.0, self.vb.width() - 24.0))

    # --- display ---------------------------------------------------------------------------

    def apply_display(self, display: DisplayState) -> None:
        mode = display.overlay
        key = (display.colormap, mode, display.opacity if mode == "alpha" else None)
        if key != self._lut_key:
            lut = colormap_lut(display.colormap)
            if mode == "alpha":
                # Opacity grows with the value, as the exported figure's "alpha" overlay does: the
                # image shows through low values and high values keep their own colour.
                ramp = np.round(np.linspace(0.0, 255.0 * display.opacity, len(lut))).astype(np.uint8)
                lut = np.concatenate([lut, ramp[:, None]], axis=1)
            self.heat.setLookupTable(lut)
            self._lut_key = key
        self.heat.setOpacity(display.opacity if mode == "blend" else 1.0)
        self.heat.setVisible(self.map_visible)
        # "heatmap alone" hides the photo only where a map covers it; without one the image stays.
        self.base.setVisible(not (mode == "heatmap" and self.preview is not None and self.map_visible))
        if self.preview is None:
            return
        self.heat.setLevels(clip_levels(self.preview, display.percentile))
        mask = threshold_mask(self.preview, display)
        self.outline.setPath(self._outline_path(mask))
        self._set_hatch(mask)

    def _set_hatch(self, mask) -> None:
        if mask is None or not mask.any() or self.size is None:
            self.hatch.clear()
            return
        h, w = mask.shape
        yy, xx = np.mgrid[0:h, 0:w]
        step = max(4, round(max(h, w) / 60))  # about 60 stripes across, whatever the preview size
        stripes = ((xx + yy) % step) < max(1, step // 4)
        rgba = np.zeros((h, w, 4), np.uint8)
        rgba[stripes & mask] = (255, 255, 255, 150)
        self.hatch.setImage(rgba, autoLevels=False)
        self.hatch.setRect(QRectF(0, 0, *self.size))

    def hatch_visible(self) -> bool:
        return self.hatch.image is not None

    def _outline_path(self, mask) -> QPainterPath:
        path = QPainterPath()
        if mask is None or self.size is None:
            return path
        sx = self.size[0] / mask.shape[1]
        sy = self.size[1] / mask.shape[0]
        for poly in outlines(mask):
            path.moveTo(poly[0, 0] * sx, poly[0, 1] * sy)
            for x, y in poly[1:]:
                path.lineTo(x * sx, y * sy)
        return path

    def has_map(self) -> bool:
        return self.heat.image is not None and self.preview is not None

    def outline_visible(self) -> bool:
        return not self.outline.path().isEmpty()

    # --- cursor ----------------------------------------------------------------------------

    def contains_scene_pos(self, pos) -> bool:
        return self.vb.sceneBoundingRect().contains(pos)

    def readout(self, scene_pos) -> str:
        """'x, y: value' for the status bar, or '' outside the image."""
        if self.size is None:
            return ""
        p = self.vb.mapSceneToView(scene_pos)
        x, y = int(np.floor(p.x())), int(np.floor(p.y()))
        w, h = self.size
        if not (0 <= x < w and 0 <= y < h):
            return ""
        text = f"x {x}, y {y}"
        if self.values is not None and self.values.shape[:2] == (h, w):
            v = float(self.values[y, x])
            text += f"  map {v:.3f}"
            if self.raw_range is not None:
                lo, hi = self.raw_range
                # Linear in the normalised value: the map is a min-max stretch of the raw scores.
                text += f"  (raw \u2248 {lo + v * (hi - lo):.4f})"
        return text

    def set_ground_truth(self, mask) -> None:
        """Outline a ground-truth mask (bool H x W at any resolution), or None to remove it."""
        key = (id(mask), self.size)  # a new image size needs the path drawn again
        if key == self._gt_mask:
            return
        self._gt_mask = key
        self.gt_outline.setPath(self._outline_path(mask) if mask is not None else QPainterPath())

    def image_pos(self, scene_pos) -> tuple[float, float] | None:
        """The image pixel under a scene position, or None outside the image."""
        if self.size is None:
            return None
        p = self.vb.mapSceneToView(scene_pos)
        w, h = self.size
        return (p.x(), p.y()) if 0 <= p.x() < w and 0 <= p.y() < h else None

    def set_cross(self, pos: tuple[float, float] | None) -> None:
        if pos is None:
            self.cross.hide()
            return
        self.cross.setData([pos[0]], [pos[1]])
        self.cross.show()

    def reset_zoom(self) -> None:
        self.vb.enableAutoRange()


def make_view(glw: pg.GraphicsLayoutWidget, row: int, col: int) -> MapCanvas:
    vb = glw.addViewBox(row=row, col=col)
    return MapCanvas(vb)


def link(canvases: list[MapCanvas]) -> None:
    """Pan and zoom by hand in one view and the others follow.

    pyqtgraph's setXLink/setYLink line views up by screen position, which shifts tiles that sit
    one above the other; copying the range keeps the same image region in every tile.
    """
    boxes = [c.vb for c in canvases]
    for vb in boxes:
        if getattr(vb, "_eclip_linked", None) is not None:
            vb.sigRangeChangedManually.disconnect(vb._eclip_linked)

        def follow(_mask, source=vb):
            x, y = source.viewRange()
            for other in boxes:
                if other is not source:
                    other.setRange(xRange=x, yRange=y, padding=0)
        vb._eclip_linked = follow
        vb.sigRangeChangedManually.connect(follow)


def style_graphics(glw: pg.GraphicsLayoutWidget) -> None:
    glw.setBackground(BACKGROUND)
    glw.ci.setContentsMargins(4, 4, 4, 4)
    glw.setFocusPolicy(Qt.NoFocus)  # keep keys (1-4, PgUp/PgDn) going to the window
