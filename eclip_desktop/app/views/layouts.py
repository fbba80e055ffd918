"""The map area: the side-by-side view or a grid of tiles, drawn from a Scene (viewer/scene.py); what each
grid's tiles hold comes from its layout module (viewer/layouts/).

Titles name the map's own text (from the Heatmap), never the editor's current lines, so a label
can not drift from the picture it describes while new maps are being computed.
"""
from __future__ import annotations

import os

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QStackedWidget

from eclip_desktop.app.views.side_by_side import SideBySideView
from eclip_desktop.app.views.tiles import TileGrid
from eclip_desktop.core.explain.methods import METHODS
from eclip_desktop.core.model.poolings import POOLING_SHORT
from eclip_desktop.viewer.layouts import get_layout
from eclip_desktop.viewer.scene import (
    Scene,
    all_bars,
    contribution_caption,
    ground_truth_text,
    raw_caption,
)
from eclip_desktop.viewer.state import DisplayState


class MapViews(QStackedWidget):
    cursor_text = Signal(str)
    shown_clicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.side = SideBySideView()
        self.grid = TileGrid()
        self.addWidget(self.side)
        self.addWidget(self.grid)
        self.side.cursor_text.connect(self.cursor_text)
        self.grid.cursor_text.connect(self.cursor_text)
        self.side.scores.row_clicked.connect(self.shown_clicked)
        self.layout_name = "side"
        self.map_visible = True

    def canvases(self):
        return self.side.canvases() if self.layout_name == "side" else self.grid.canvases()

    def set_map_visible(self, on: bool) -> None:
        self.map_visible = on
        for canvas in self.side.canvases() + [t.canvas for t in self.grid.tiles]:
            canvas.map_visible = on

    def reset_zoom(self) -> None:
        for c in self.canvases():
            c.reset_zoom()

    def apply_display(self, display: DisplayState) -> None:
        (self.side if self.layout_name == "side" else self.grid).apply_display(display)

    def render(self, layout: str, s: Scene) -> None:
        self.layout_name = layout
        if layout == "side":
            self.setCurrentWidget(self.side)
            self._render_side(s)
            self.side.refresh_readout()
            return
        self.cursor_text.emit("")  # a tile's value under the cursor belonged to the previous maps
        self.setCurrentWidget(self.grid)
        self.grid.map_visible = self.map_visible  # tiles made for this render start as the others are
        header, tiles, compact = get_layout(layout).tiles(s)
        if s.ground_truth is not None:
            for tile in tiles:
                tile.extra["gt"] = s.ground_truth
                # A difference of two maps has no object/background evidence of its own.
                # On the min-max map as mSC is defined, also where the tile draws a shared scale.
                values = tile.extra.get("normalised", tile.full)
                gt = "" if tile.title.startswith("difference") else ground_truth_text(values, s.ground_truth)
                if gt:
                    tile.caption = f"{tile.caption}\n{gt}" if tile.caption else gt
        self.grid.set_tiles(header, tiles, s.image, s.display, compact)

    # --- side by side ------------------------------------------------------------------------

    def _render_side(self, s: Scene) -> None:
        a, d = s.analysis, s.display
        side = self.side
        for canvas in side.canvases():
            if s.image is None:
                canvas.set_image(None)
            else:
                canvas.set_image(s.image.preview, s.image.width, s.image.height)
        left = f"{os.path.basename(s.image.path)}  ({s.image.width}\u00d7{s.image.height})" if s.image else ""
        side.image.set_map(None, None, d, note="" if s.image else s.image_note)
        ms = s.maps.get((a.method, a.pooling))
        pooling = POOLING_SHORT.get(a.pooling, a.pooling)
        if s.convis is not None:
            cv = s.convis
            side.map.set_map(cv.preview, cv.values, d, note="" if cv.preview is not None else cv.note)
            side.set_titles(left, cv.title, cv.caption)
            # The prompt scores belong to the ITSM; under a concept map they would read as its scores.
            side.scores.clear("ConVis \u00b7 pick a Method under Controls to return to the prompts")
        elif ms is None:
            side.map.set_map(None, None, d, note=s.note)
            side.set_titles(left, f"{METHODS[a.method].label} \u00b7 pooling: {pooling}")
            side.scores.clear()
        else:
            t = min(a.shown_index(), len(ms.heatmaps) - 1)
            hm = ms.heatmaps[t]
            if d.show_contribution:
                side.map.set_map(ms.contribution_preview, ms.contribution, d)
                side.set_titles(left, f"contribution \u00b7 {pooling}",
                                contribution_caption(ms.contribution_preview))
            else:
                side.map.set_map(ms.previews[t], hm.values, d, hm.raw_range)
                side.set_titles(left, f"{METHODS[ms.method].label} \u00b7 \u201c{hm.text}\u201d \u00b7 {pooling}",
                                raw_caption(hm.raw_range, hm.method))
            # Short enough not to be cut under the map at 1000x700: which pooling, and whether that is
            # a model of its own (a family) or one model's readout.
            which = "model" if ms.trained_with_pooling else "pooling"
            bars = all_bars(ms, t, f"zero-shot probability \u00b7 {a.pooling.replace('_', ' ')} {which}")
            side.scores.set_scores(bars["labels"], bars["probabilities"], bars["cosines"], t, bars["title"])
        for canvas in side.canvases():
            canvas.set_ground_truth(s.ground_truth if s.image is not None else None)
        if s.ground_truth is not None and side.map.values is not None:
            gt = ground_truth_text(side.map.values, s.ground_truth)
            if gt:
                side.caption.setText(f"{side.caption.full_text()} \u00b7 {gt}".strip(" \u00b7"))
        side.apply_display(d)
