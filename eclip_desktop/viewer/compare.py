"""The model comparison: the current model's map beside a second model's, for the same image,
prompt, method and pooling, each tile titled with its model's short name and pooling.

Colours are either each tile's own min-max range (the default, as every other view) or one shared
raw-similarity scale over both maps. Two models' cosines need not live on one scale, so the
per-tile view is the honest default; the shared one answers "which model is more sure, where".
Both the tiles and the exported grid say which is used.
"""
from __future__ import annotations

import html
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from eclip_desktop.core.explain.methods import METHODS
from eclip_desktop.core.figures.grids import score_caption
from eclip_desktop.core.figures.render import short_model_name
from eclip_desktop.core.model.family import family_label
from eclip_desktop.core.model.poolings import short_pooling
from eclip_desktop.viewer.figure import tile_entry
from eclip_desktop.viewer.jobs.compute import MapSet
from eclip_desktop.viewer.scene import TileContent, contribution_caption, raw_caption, tile_bars
from eclip_desktop.viewer.state import ModelChoice

OWN_SCALE = "own range"  # the words a tile's caption uses for its colour scale
SHARED_SCALE = "shared scale"


@dataclass
class ComparePane:
    """The second model's side of the comparison, as the window holds it."""

    model: ModelChoice | None  # the loaded second model; None: none chosen (or loaded) yet
    maps: dict  # (method, pooling) -> MapSet of the second model, for the image on screen
    note: str  # what its tile says while it has no map
    shared_scale: bool = False


@dataclass
class CompareSide:
    name: str
    pooling: str  # what this model shows: a family without the window's pooling shows another one
    ms: MapSet | None
    note: str
    substituted: bool = False


def model_name(choice: ModelChoice | None) -> str:
    """Short enough for a tile title: a family by its name, a checkpoint by folder and file."""
    if choice is None:
        return "second model"
    if choice.family:
        return family_label(choice.architecture)
    return short_model_name(choice.architecture, choice.pretrained)


def compare_sides(model: ModelChoice | None, maps: dict, note: str, method: str, pooling: str,
                  pane: ComparePane | None) -> list[CompareSide]:
    first = CompareSide(model_name(model), pooling, maps.get((method, pooling)), note)
    if pane is None or pane.model is None:
        return [first, CompareSide("second model", pooling, None, pane.note if pane else "")]
    shown = pane.model.shown_pooling(pooling)
    return [first, CompareSide(model_name(pane.model), shown, pane.maps.get((method, shown)), pane.note,
                               substituted=shown != pooling)]


def joint_range(sides: list[CompareSide], shown: int) -> tuple[float, float] | None:
    """The raw range both shown maps fit in, or None until both are there."""
    ranges = [s.ms.heatmaps[min(shown, len(s.ms.heatmaps) - 1)].raw_range for s in sides if s.ms is not None]
    if len(ranges) < 2:
        return None
    return min(lo for lo, _ in ranges), max(hi for _, hi in ranges)


_SCALED: OrderedDict = OrderedDict()  # (id of the map, joint) -> (map, rescaled): the last few
_SCALED_KEEP = 8  # two tiles' preview and full map, and the ones just before a switch


def on_joint_scale(values: np.ndarray, raw: tuple[float, float], joint: tuple[float, float]) -> np.ndarray:
    """A min-max map re-expressed on the joint raw range: exact, since the stretch and the bilinear
    upsampling are both linear. Kept for the next redraw: a photo's full-size map takes tens of ms
    to rescale, and the window redraws on every result."""
    lo, hi = raw
    low, high = joint
    if high - low <= 0:
        return values
    key = (id(values), joint)
    hit = _SCALED.get(key)
    if hit is not None and hit[0] is values:  # the same array, not a new one at a reused address
        _SCALED.move_to_end(key)
        return hit[1]
    scaled = ((np.asarray(values, np.float32) * (hi - lo) + (lo - low)) / (high - low)).astype(np.float32)
    _SCALED[key] = (values, scaled)
    while len(_SCALED) > _SCALED_KEEP:
        _SCALED.popitem(last=False)
    return scaled


def scale_words(shared: bool, joint) -> str:
    if shared and joint is not None:
        return f"shared raw scale [{joint[0]:.3f}, {joint[1]:.3f}]"
    if shared:
        return "shared raw scale (once both maps are in)"
    return "each tile its own range"


def _title(side: CompareSide, asked: str) -> str:
    title = f"{side.name} \u00b7 {short_pooling(side.pooling)}"
    return f"{title} (it has no {short_pooling(asked)} model)" if side.substituted else title


def compare_tiles(model: ModelChoice | None, maps: dict, note: str, analysis, display,
                  pane: ComparePane | None) -> tuple[str, list[TileContent]]:
    a = analysis
    sides = compare_sides(model, maps, note, a.method, a.pooling, pane)
    t = a.shown_index()
    contribution = display.show_contribution
    shared = pane is not None and pane.shared_scale and not contribution
    joint = joint_range(sides, t) if shared else None
    tiles, text = [], None
    for side in sides:
        title = _title(side, a.pooling)
        if side.ms is None:
            tiles.append(TileContent(title, None, note=side.note))
            continue
        ms = side.ms
        i = min(t, len(ms.heatmaps) - 1)
        hm = ms.heatmaps[i]
        text = hm.text
        if contribution:
            content = TileContent(f"{title} \u00b7 contribution", ms.contribution_preview, ms.contribution,
                                  caption=contribution_caption(ms.contribution_preview))
        elif joint is not None:
            content = TileContent(title, on_joint_scale(ms.previews[i], hm.raw_range, joint),
                                  on_joint_scale(hm.values, hm.raw_range, joint), joint,
                                  caption=f"{raw_caption(hm.raw_range, hm.method)} \u00b7 colours: {SHARED_SCALE}",
                                  extra={"normalised": hm.values})
        else:
            content = TileContent(title, ms.previews[i], hm.values, hm.raw_range,
                                  caption=f"{raw_caption(hm.raw_range, hm.method)} \u00b7 colours: {OWN_SCALE}")
        content.bars = tile_bars(ms, i, "zero-shot probability")
        content.tooltip = title
        tiles.append(content)
    what = f"\u201c{html.escape(text)}\u201d \u00b7 " if text else ""
    colours = "contribution maps, each its own range" if contribution else scale_words(shared, joint)
    header = f"<b>Two models</b>: {what}{METHODS[a.method].label} \u00b7 colours: {colours}"
    return header, tiles


def compare_grid_tiles(model: ModelChoice | None, maps: dict, analysis, pane: ComparePane | None,
                       shared: bool):
    """(tiles, joint range) for the exported grid: tile_entry's (values, caption, source) per model,
    the values on the joint scale when it is shared."""
    a = analysis
    sides = [s for s in compare_sides(model, maps, "", a.method, a.pooling, pane) if s.ms is not None]
    joint = joint_range(sides, a.shown_index()) if shared else None
    tiles = []
    for side in sides:
        i = min(a.shown_index(), len(side.ms.heatmaps) - 1)
        hm = side.ms.heatmaps[i]
        values = on_joint_scale(hm.values, hm.raw_range, joint) if joint is not None else hm.values
        scores = {"cosine": side.ms.scores["cosine"][i], "probability": side.ms.scores["probability"][i]}
        caption = [f"{side.name} \u00b7 {short_pooling(side.pooling)}", score_caption(scores)]
        values, lines, source = tile_entry(side.ms, i, caption, values)
        # Two lines under the tile: a model's name is longer than a pooling's and would push its
        # scores off the panel (the sidecar's caption keeps them on one line).
        tiles.append((values, "\n".join(lines), source))
    return tiles, joint
