"""What each layout shows, composed from the computed maps and the plain states.

Titles name the map's own text (from the Heatmap), never the editor's current lines, so a label
can not drift from the picture it describes while new maps are being computed.
"""
from __future__ import annotations

import html
import os
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QStackedWidget

from eclip_desktop.app.state import AnalysisState, DisplayState, ModelChoice
from eclip_desktop.app.views.side_by_side import SideBySideView
from eclip_desktop.app.views.tiles import TileContent, TileGrid
from eclip_desktop.app.workers.compute import ImageView, MapSet
from eclip_desktop.core.explain.methods import METHODS, method_names
from eclip_desktop.core.model.poolings import POOLING_LABELS, POOLING_SHORT, pooling_names

FLAT_SPAN = 0.01  # raw cosine spans below this are stretched noise, and the caption says so
SINGLE_MODEL_NOTE = ("One model: its similarity map (ITSM) is the same under every pooling readout; the "
                     "readout changes the zero-shot scores and where the pooled embedding takes its "
                     "evidence. The ITSM itself needs a model trained with that pooling.")


def layout_poolings(model: ModelChoice | None) -> list[str]:
    return model.poolings() if model is not None else pooling_names()


def needed_pairs(layout: str, analysis: AnalysisState, model: ModelChoice | None) -> list[tuple[str, str]]:
    if layout == "methods":
        return [(m, analysis.pooling) for m in method_names()]
    if layout == "poolings":
        return [(analysis.method, p) for p in layout_poolings(model)]
    return [(analysis.method, analysis.pooling)]


def raw_caption(raw_range, method: str | None = None) -> str:
    lo, hi = raw_range
    label = METHODS[method].raw_label if method in METHODS else "similarity"
    text = f"raw {label} [{lo:.3f}, {hi:.3f}]"
    if hi - lo < FLAT_SPAN:
        text += " \u2014 near-constant: the colours stretch a tiny difference"
    return text


def contribution_caption(values) -> str:
    if float(values.max()) - float(values.min()) < 1e-6:
        return "uniform: every location contributes equally"
    return "share of the pooled embedding's evidence per location"


def tile_bars(ms: MapSet, shown: int, title: str) -> dict:
    """A tile's bars: the shown prompt and the best other one. Two rows keep a 2x2 grid on one
    screen at 1000x700; the side-by-side view lists every prompt."""
    p = ms.scores["probability"]
    others = [i for i in range(len(p)) if i != shown]
    keep = sorted([shown] + ([max(others, key=lambda i: p[i])] if others else []))
    bars = _bars(ms, shown, title)
    for key in ("labels", "probabilities", "cosines"):
        bars[key] = [bars[key][i] for i in keep]
    bars["shown"] = keep.index(shown)
    if len(p) > len(keep):
        # Short enough for a grid tile: the shown row is bold, the other is the best of the rest, and
        # the tooltip lists every prompt's scores.
        bars["title"] = f"{title} ({len(keep)} of {len(p)} prompts)"
    return bars


def _shift_tags(model: ModelChoice | None) -> dict:
    """pooling -> a word for its tile title, from the family's measured cards (see views/guide.py)."""
    from eclip_desktop.app.views.guide import measured_shift
    summary = measured_shift(model.architecture) if model is not None and model.family else None
    if summary is None:
        return {}
    # Short: a tile title wraps, and at 1000x700 every line costs map height.
    tags = {e.pooling: f"shifted ({e.bg_preferred:.0%} on background)" for e in summary.shifted}
    tags.setdefault(summary.best.pooling, "most on the object")
    return tags


def _bars(ms: MapSet, shown: int, title: str) -> dict:
    return {"labels": [h.text for h in ms.heatmaps], "probabilities": ms.scores["probability"],
            "cosines": ms.scores["cosine"], "shown": shown, "title": title}


@dataclass
class ConVisPane:
    """A WordNet synset's ConVis map for the side-by-side map pane (instead of the prompt's map)."""

    title: str
    preview: np.ndarray | None = None  # None: not computed yet, `note` says why
    values: np.ndarray | None = None
    caption: str = ""
    note: str = ""


@dataclass
class Scene:
    """Everything one render needs."""

    image: ImageView | None
    maps: dict
    analysis: AnalysisState
    display: DisplayState
    model: ModelChoice | None
    note: str  # what a pane without a map says
    image_note: str = ""  # what the image pane says while there is no picture
    convis: ConVisPane | None = None  # set while the side-by-side view shows a ConVis map
    difference: bool = False  # the pooling grid adds a tile: shifted pooling's map minus the best one's
    ground_truth: np.ndarray | None = None  # bool mask at the image size, loaded by the user
    compare: object = None  # views.compare.ComparePane: the model comparison's second model
    refused: dict = field(default_factory=dict)  # (method, pooling) -> why that method does not apply


def ground_truth_text(values, mask) -> str:
    """Live evidence against a ground-truth mask: score contrast (mean inside − outside, as mSC
    reports it, in %) and whether the map's maximum points inside."""
    if values is None or mask is None or values.shape != mask.shape:
        return ""
    from eclip_desktop.core.evaluation.metrics import pointing_hit, score_contrast
    sc = score_contrast(values, mask)
    if sc != sc:  # NaN: the mask is empty or covers everything
        return "ground truth: mask is empty or covers the whole image"
    hit = "hit" if pointing_hit(values, mask) else "miss"
    side = "object" if sc >= 0 else "background"
    return f"ground truth: SC {100 * sc:+.1f} % (favours the {side}), pointing {hit}"


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
        header, tiles, *compact = {"poolings": self._pooling_tiles, "prompts": self._prompt_tiles,
                                   "methods": self._method_tiles, "compare": self._compare_tiles}[layout](s)
        if s.ground_truth is not None:
            for tile in tiles:
                tile.extra["gt"] = s.ground_truth
                # A difference of two maps has no object/background evidence of its own.
                # On the min-max map as mSC is defined, also where the tile draws a shared scale.
                values = tile.extra.get("normalised", tile.full)
                gt = "" if tile.title.startswith("difference") else ground_truth_text(values, s.ground_truth)
                if gt:
                    tile.caption = f"{tile.caption}\n{gt}" if tile.caption else gt
        self.grid.set_tiles(header, tiles, s.image, s.display, *compact)

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
            bars = _bars(ms, t, f"zero-shot probability \u00b7 {a.pooling.replace('_', ' ')} {which}")
            side.scores.set_scores(bars["labels"], bars["probabilities"], bars["cosines"], t, bars["title"])
        for canvas in side.canvases():
            canvas.set_ground_truth(s.ground_truth if s.image is not None else None)
        if s.ground_truth is not None and side.map.values is not None:
            gt = ground_truth_text(side.map.values, s.ground_truth)
            if gt:
                side.caption.setText(f"{side.caption.full_text()} \u00b7 {gt}".strip(" \u00b7"))
        side.apply_display(d)

    # --- grids ---------------------------------------------------------------------------------

    @staticmethod
    def _compare_tiles(s: Scene):
        from eclip_desktop.app.views.compare import compare_tiles  # it builds on this module's helpers
        return compare_tiles(s.model, s.maps, s.note, s.analysis, s.display, s.compare)

    def _pooling_tiles(self, s: Scene):
        a, tiles = s.analysis, []
        family = s.model is not None and s.model.family
        tags = _shift_tags(s.model)
        if family:
            header = ("<b>One model per pooling</b>: each tile is the model trained with "
                      "that pooling, so its similarity map differs \u2014 the semantic shift.")
            compact = "<b>One model per pooling</b>: the map differs \u2014 the semantic shift."
        else:
            header = f"<b>{SINGLE_MODEL_NOTE}</b> Tiles show each pooling's contribution map."
            compact = ("<b>One model</b>: the pooling changes only the readout; tiles show each pooling's "
                       "contribution map.")
        shown_text = None
        for p in layout_poolings(s.model):
            ms = s.maps.get((a.method, p))
            label = POOLING_LABELS.get(p, p)
            if ms is None:
                tiles.append(TileContent(label, None, note=s.note, highlight=p == a.pooling))
                continue
            t = min(a.shown_index(), len(ms.heatmaps) - 1)
            hm = ms.heatmaps[t]
            shown_text = hm.text
            if family and not s.display.show_contribution:
                tag = f" \u2014 {tags[p]}" if p in tags else ""
                content = TileContent(f"{label} \u00b7 \u201c{hm.text}\u201d{tag}", ms.previews[t], hm.values,
                                      hm.raw_range, caption=raw_caption(hm.raw_range, hm.method),
                                      compact_title=f"{POOLING_SHORT.get(p, p)}{tag}")
            else:
                content = TileContent(f"{label} \u00b7 contribution", ms.contribution_preview, ms.contribution,
                                      caption=contribution_caption(ms.contribution_preview),
                                      compact_title=f"{POOLING_SHORT.get(p, p)} \u00b7 contribution")
            content.bars = tile_bars(ms, t, "zero-shot probability")
            content.highlight = p == a.pooling
            tiles.append(content)
        if s.difference:
            tiles.append(self._difference_tile(s))
        if family and shown_text is not None and not s.display.show_contribution:
            # Compact titles leave the prompt out (the same in every tile): the header names it once.
            compact = f"<b>One model per pooling</b> \u00b7 \u201c{html.escape(shown_text)}\u201d"
        return header, tiles, compact

    @staticmethod
    def _difference_tile(s: Scene) -> TileContent:
        """The shifted pooling's map minus the best one's (measured, from the family's cards; else
        avg − masked max), both min-max normalised; 0.5 means equal."""
        from eclip_desktop.app.views.guide import measured_shift
        a = s.analysis
        summary = measured_shift(s.model.architecture) if s.model is not None and s.model.family else None
        first, second = ("avg", "masked_max")
        if summary is not None and summary.shifted:
            first, second = summary.shifted[0].pooling, summary.best.pooling
        title = f"difference: {POOLING_SHORT.get(first, first)} \u2212 {POOLING_SHORT.get(second, second)}"
        one, two = s.maps.get((a.method, first)), s.maps.get((a.method, second))
        if one is None or two is None or first == second:
            return TileContent(title, None, note=s.note if one is None or two is None else "one pooling only")
        t = min(a.shown_index(), len(one.heatmaps) - 1, len(two.heatmaps) - 1)
        use = (lambda ms: ms.contribution_preview, lambda ms: ms.contribution) if s.display.show_contribution \
            or not (s.model is not None and s.model.family) else \
            (lambda ms: ms.previews[t], lambda ms: ms.heatmaps[t].values)
        preview = (use[0](one) - use[0](two) + 1.0) / 2.0
        full = (use[1](one) - use[1](two) + 1.0) / 2.0
        what = "contribution" if use[0](one) is one.contribution_preview else "map"
        caption = (f"bright: {POOLING_SHORT.get(first, first)}\u2019s {what} is higher there \u00b7 dark: "
                   f"{POOLING_SHORT.get(second, second)}\u2019s \u00b7 0.5: equal (difference of the two normalised "
                   f"{what}s)")
        return TileContent(title, preview.astype(np.float32), full.astype(np.float32), caption=caption)

    def _prompt_tiles(self, s: Scene):
        a = s.analysis
        ms = s.maps.get((a.method, a.pooling))
        pooling = POOLING_LABELS.get(a.pooling, a.pooling)
        header = f"{METHODS[a.method].label} \u00b7 pooling: {pooling} \u00b7 one tile per prompt"
        if ms is None:
            return header, [TileContent(f"\u201c{t}\u201d", None, note=s.note) for t in a.texts]
        tiles = []
        shown = min(a.shown_index(), len(ms.heatmaps) - 1)
        for i, hm in enumerate(ms.heatmaps):
            prob, cos = ms.scores["probability"][i], ms.scores["cosine"][i]
            tiles.append(TileContent(f"\u201c{hm.text}\u201d", ms.previews[i], hm.values, hm.raw_range,
                                     caption=f"p = {prob:.3f} \u00b7 cos = {cos:.3f} \u00b7 "
                                             f"{raw_caption(hm.raw_range, hm.method)}",
                                     highlight=i == shown, tooltip=hm.text))
        return header, tiles

    def _method_tiles(self, s: Scene):
        a = s.analysis
        pooling = POOLING_LABELS.get(a.pooling, a.pooling)
        tiles, text = [], None
        for m in method_names():
            ms = s.maps.get((m, a.pooling))
            info = METHODS[m]
            if ms is None:
                note = s.refused.get((m, a.pooling), s.note)
                tiles.append(TileContent(info.label, None, note=note, highlight=m == a.method))
                continue
            t = min(a.shown_index(), len(ms.heatmaps) - 1)
            hm = ms.heatmaps[t]
            text = hm.text
            summary = info.summary(a.method_options(m))
            # The description goes to the tooltip: seven long captions would squeeze the maps.
            tiles.append(TileContent(info.label, ms.previews[t], hm.values, hm.raw_range,
                                     caption=f"{summary + chr(10) if summary else ''}{raw_caption(hm.raw_range, hm.method)}",
                                     highlight=m == a.method, tooltip=f"{info.label}: {info.description}"))
        header = f"\u201c{html.escape(text)}\u201d \u00b7 pooling: {pooling} \u00b7 one tile per method" if text else \
            f"pooling: {pooling} \u00b7 one tile per method"
        return header, tiles
