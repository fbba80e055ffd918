"""Pooling grid: one tile per pooling. With a family each tile is the model trained with that
pooling, so the maps differ (the semantic shift); with one model only the readout changes, so the
tiles show each pooling's contribution map."""
from __future__ import annotations

import html

import numpy as np

from eclip_desktop.core.model.poolings import POOLING_LABELS, POOLING_SHORT
from eclip_desktop.viewer.scene import (
    SINGLE_MODEL_NOTE,
    TileContent,
    contribution_caption,
    layout_poolings,
    raw_caption,
    shift_tags,
    tile_bars,
)

KEY, LABEL, SHORT = "poolings", "Pooling grid", "Poolings"


def pairs(analysis, model) -> list[tuple[str, str]]:
    return [(analysis.method, p) for p in layout_poolings(model)]


def headers(family: bool) -> tuple[str, str]:
    if family:
        return ("<b>One model per pooling</b>: each tile is the model trained with that pooling, so its "
                "similarity map differs \u2014 the semantic shift.",
                "<b>One model per pooling</b>: the map differs \u2014 the semantic shift.")
    return (f"<b>{SINGLE_MODEL_NOTE}</b> Tiles show each pooling's contribution map.",
            "<b>One model</b>: the pooling changes only the readout; tiles show each pooling's contribution map.")


def tiles(s):
    a, out = s.analysis, []
    # While a family loads, its header already says what is coming: one model per pooling.
    model = s.model if s.model is not None else s.pending
    family = model is not None and model.family
    tags = shift_tags(model)
    header, compact = headers(family)
    shown_text = None
    for p in layout_poolings(model):
        ms = s.maps.get((a.method, p))
        label = POOLING_LABELS.get(p, p)
        if ms is None:
            out.append(TileContent(label, None, note=s.note, highlight=p == a.pooling))
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
        out.append(content)
    if s.difference:
        out.append(difference_tile(s, model))
    if family and shown_text is not None and not s.display.show_contribution:
        # Compact titles leave the prompt out (the same in every tile): the header names it once.
        compact = f"<b>One model per pooling</b> \u00b7 \u201c{html.escape(shown_text)}\u201d"
    return header, out, compact


def difference_tile(s, model) -> TileContent:
    """The shifted pooling's map minus the best one's (measured, from the family's cards; else
    avg − masked max), both min-max normalised; 0.5 means equal."""
    from eclip_desktop.viewer.guide import measured_shift
    a = s.analysis
    family = model is not None and model.family
    summary = measured_shift(model.architecture) if family else None
    first, second = ("avg", "masked_max")
    if summary is not None and summary.shifted:
        first, second = summary.shifted[0].pooling, summary.best.pooling
    title = f"difference: {POOLING_SHORT.get(first, first)} \u2212 {POOLING_SHORT.get(second, second)}"
    one, two = s.maps.get((a.method, first)), s.maps.get((a.method, second))
    if one is None or two is None or first == second:
        return TileContent(title, None, note=s.note if one is None or two is None else "one pooling only")
    t = min(a.shown_index(), len(one.heatmaps) - 1, len(two.heatmaps) - 1)
    contribution = s.display.show_contribution or not family
    if contribution:
        preview, full = one.contribution_preview - two.contribution_preview, one.contribution - two.contribution
    else:
        preview, full = one.previews[t] - two.previews[t], one.heatmaps[t].values - two.heatmaps[t].values
    what = "contribution" if contribution else "map"
    caption = (f"bright: {POOLING_SHORT.get(first, first)}\u2019s {what} is higher there \u00b7 dark: "
               f"{POOLING_SHORT.get(second, second)}\u2019s \u00b7 0.5: equal (difference of the two normalised "
               f"{what}s)")
    return TileContent(title, ((preview + 1.0) / 2.0).astype(np.float32), ((full + 1.0) / 2.0).astype(np.float32),
                       caption=caption)


# --- its exported figure (Export Map / Copy Figure of the grid on screen) ------------------------

GRID_KIND = "pooling"


def figure_line(analysis) -> str:
    return f"method: {analysis.method}"


def figure_tiles(maps: dict, analysis, model) -> list:
    from eclip_desktop.core.model.poolings import short_pooling
    from eclip_desktop.viewer.figure import tile_caption, tile_entry
    out = []
    for p in layout_poolings(model):
        ms = maps.get((analysis.method, p))
        if ms is not None:
            t = min(analysis.shown_index(), len(ms.heatmaps) - 1)
            out.append(tile_entry(ms, t, tile_caption(short_pooling(p), ms, t)))
    return out
