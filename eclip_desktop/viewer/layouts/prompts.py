"""Prompt grid: one tile per prompt, under the chosen method and pooling."""
from __future__ import annotations

from eclip_desktop.core.explain.methods import METHODS
from eclip_desktop.core.model.poolings import POOLING_LABELS
from eclip_desktop.viewer.scene import TileContent, raw_caption

KEY, LABEL, SHORT = "prompts", "Prompt grid", "Prompts"


def pairs(analysis, model) -> list[tuple[str, str]]:
    return [(analysis.method, analysis.pooling)]


def tiles(s):
    a = s.analysis
    ms = s.maps.get((a.method, a.pooling))
    pooling = POOLING_LABELS.get(a.pooling, a.pooling)
    header = f"{METHODS[a.method].label} \u00b7 pooling: {pooling} \u00b7 one tile per prompt"
    if ms is None:
        return header, [TileContent(f"\u201c{t}\u201d", None, note=s.note) for t in a.texts], ""
    out = []
    shown = min(a.shown_index(), len(ms.heatmaps) - 1)
    for i, hm in enumerate(ms.heatmaps):
        prob, cos = ms.scores["probability"][i], ms.scores["cosine"][i]
        out.append(TileContent(f"\u201c{hm.text}\u201d", ms.previews[i], hm.values, hm.raw_range,
                               caption=f"p = {prob:.3f} \u00b7 cos = {cos:.3f} \u00b7 "
                                       f"{raw_caption(hm.raw_range, hm.method)}",
                               highlight=i == shown, tooltip=hm.text))
    return header, out, ""


# --- its exported figure (Export Map / Copy Figure of the grid on screen) ------------------------

GRID_KIND = "prompt"


def figure_line(analysis) -> str:
    return f"method: {analysis.method} \u00b7 pooling: {analysis.pooling}"


def figure_tiles(maps: dict, analysis, model) -> list:
    from eclip_desktop.viewer.figure import tile_caption, tile_entry
    ms = maps.get((analysis.method, analysis.pooling))
    if ms is None:
        return []
    return [tile_entry(ms, t, tile_caption(f"\u201c{hm.text}\u201d", ms, t)) for t, hm in enumerate(ms.heatmaps)]
