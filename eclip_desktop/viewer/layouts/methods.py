"""Method grid: one tile per explanation method (the core's registry), for the shown prompt."""
from __future__ import annotations

import html

from eclip_desktop.core.explain.methods import METHODS, method_names
from eclip_desktop.core.model.poolings import POOLING_LABELS
from eclip_desktop.viewer.scene import TileContent, raw_caption

KEY, LABEL, SHORT = "methods", "Method grid", "Methods"


def pairs(analysis, model) -> list[tuple[str, str]]:
    return [(m, analysis.pooling) for m in method_names()]


def tiles(s):
    a = s.analysis
    pooling = POOLING_LABELS.get(a.pooling, a.pooling)
    out, text = [], None
    for m in method_names():
        ms = s.maps.get((m, a.pooling))
        info = METHODS[m]
        if ms is None:
            note = s.refused.get((m, a.pooling), s.note)
            out.append(TileContent(info.label, None, note=note, highlight=m == a.method))
            continue
        t = min(a.shown_index(), len(ms.heatmaps) - 1)
        hm = ms.heatmaps[t]
        text = hm.text
        summary = info.summary(a.method_options(m))
        # The description goes to the tooltip: seven long captions would squeeze the maps.
        out.append(TileContent(info.label, ms.previews[t], hm.values, hm.raw_range,
                               caption=f"{summary + chr(10) if summary else ''}{raw_caption(hm.raw_range, hm.method)}",
                               highlight=m == a.method, tooltip=f"{info.label}: {info.description}"))
    header = f"\u201c{html.escape(text)}\u201d \u00b7 pooling: {pooling} \u00b7 one tile per method" if text else \
        f"pooling: {pooling} \u00b7 one tile per method"
    return header, out, ""


# --- its exported figure (Export Map / Copy Figure of the grid on screen) ------------------------

GRID_KIND = "method"


def figure_line(analysis) -> str:
    return f"pooling: {analysis.pooling}"


def figure_tiles(maps: dict, analysis, model) -> list:
    from eclip_desktop.viewer.figure import tile_caption, tile_entry
    out = []
    for m in method_names():
        ms = maps.get((m, analysis.pooling))
        if ms is not None:
            t = min(analysis.shown_index(), len(ms.heatmaps) - 1)
            out.append(tile_entry(ms, t, tile_caption(METHODS[m].label, ms, t)))
    return out
