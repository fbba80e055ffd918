"""The layouts, one module each: what maps it needs, the tiles it shows (grids) and its words.

The window's actions, menus and toolbar, sessions and exports read this registry; a layout added
here appears in them by itself. The side-by-side layout is drawn by its own Qt view; the grids
draw the TileContent their module composes from a Scene.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from eclip_desktop.viewer.layouts import methods, models, poolings, prompts, side


@dataclass(frozen=True)
class Layout:
    key: str
    label: str  # menus
    short: str  # the layouts toolbar: short, so the display toolbar beside it keeps its controls at 1440 px
    pairs: Callable  # (analysis, model) -> [(method, pooling)] the layout shows
    tiles: Callable | None  # (scene) -> (header, [TileContent], compact header); None: its own view
    grid_kind: str | None = None  # the exported grid's name (`export --grid` kinds); None: not a grid figure
    figure_tiles: Callable | None = None  # (maps, analysis, model) -> tile entries of the exported grid
    figure_line: Callable | None = None  # (analysis) -> what every tile shares, for the title


REGISTRY: dict[str, Layout] = {
    m.KEY: Layout(m.KEY, m.LABEL, m.SHORT, m.pairs, getattr(m, "tiles", None), getattr(m, "GRID_KIND", None),
                  getattr(m, "figure_tiles", None), getattr(m, "figure_line", None))
    for m in (side, poolings, prompts, methods, models)
}
LAYOUTS = {k: v.label for k, v in REGISTRY.items()}
LAYOUT_SHORT = {k: v.short for k, v in REGISTRY.items()}


def get_layout(key: str) -> Layout:
    if key not in REGISTRY:
        raise KeyError(f"unknown layout {key!r}; have {', '.join(REGISTRY)}")
    return REGISTRY[key]


def needed_pairs(layout: str, analysis, model) -> list[tuple[str, str]]:
    return get_layout(layout).pairs(analysis, model)


def grid_figure(layout: str, maps: dict, analysis, model, image_name: str, model_text: str):
    """(grid kind, tiles, title lines, export options) of a grid layout's exported figure, or None
    when the layout draws no grid figure of its own or has no map yet."""
    spec = get_layout(layout)
    if spec.figure_tiles is None:
        return None
    tiles = spec.figure_tiles(maps, analysis, model)
    if not tiles:
        return None
    kind = spec.grid_kind
    if kind == "pooling" and model is not None and model.family:
        model_text = model.label()  # each tile is another sibling: no single weights file to name
    lines = [f"{image_name}: one tile per {kind}", f"{model_text} \u00b7 {spec.figure_line(analysis)}"]
    if kind != "prompt":
        # Every tile maps the same prompt; without it the grid would not say what was looked for.
        ms = next((m for m in maps.values() if m.heatmaps), None)
        if ms is not None:
            lines.insert(1, f"\u201c{ms.heatmaps[min(analysis.shown_index(), len(ms.heatmaps) - 1)].text}\u201d")
    return kind, tiles, lines, {}
